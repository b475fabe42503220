"""Templates, the signed-in session of a request, and the checks every page makes."""

from __future__ import annotations

from pathlib import Path

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from facestream.api.auth import context
from facestream.api.problems import Problem
from facestream.web.sessions import COOKIE, Session, Sessions, csrf_ok

HERE = Path(__file__).parent
templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)
# scripts only from /static (no inline script): an injected <script> would not run
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


NAV = [
    ("/live", "Live"),
    ("/people", "People"),
    ("/review", "Review"),
    ("/activity", "Activity"),
    ("/search", "Search"),
    ("/system", "System"),
]


class SignInNeeded(Exception):
    """Raised by pages without a session: answered with a redirect to /signin."""


def page(name: str, request: Request, status_code: int = 200, **values) -> HTMLResponse:
    values.setdefault("error", request.query_params.get("error"))
    values.setdefault("notice", request.query_params.get("notice"))
    values.setdefault("session", None)
    values.setdefault("nav", NAV)
    html = templates.get_template(name).render(**values)
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def sessions(request: Request) -> Sessions:
    return Sessions(context(request).services.redis)


def signed_in(request: Request) -> Session:
    session = sessions(request).get(request.cookies.get(COOKIE))
    if session is None:
        raise SignInNeeded()
    return session


def check_csrf(session: Session, token: str | None) -> None:
    if not csrf_ok(session, token):
        raise Problem(403, "csrf: expected the form token of this session", "csrf")


def visible_collections(request: Request, session: Session) -> list[str]:
    if session.key.role == "admin":
        return context(request).collections.names()
    return [session.key.collection] if session.key.collection else []
