"""Sign-in, sign-out, the People and System pages."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from config.errors import ConfigError
from facestream import status as stack_status
from facestream import thumbnails
from facestream.api.auth import allow, context
from facestream.api.models import COLLECTION, PERSON_ID
from facestream.api.problems import Problem
from facestream.web.render import check_csrf, page, sessions, signed_in, visible_collections
from facestream.web.sessions import COOKIE, TTL_S
from workers.replies import text

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
PAGE = 50
COLLECTION_RE = re.compile(COLLECTION)
PERSON_ID_RE = re.compile(PERSON_ID)
# login CSRF: another site could post its own key to /signin and have the browser work under it;
# the form carries a token that must equal a SameSite=Strict cookie set with the form, which a
# cross-site post does not send
SIGNIN_COOKIE = "fs_signin"


def redirect_back(
    url: str, error: str | None = None, notice: str | None = None
) -> RedirectResponse:
    if error:
        url += ("&" if "?" in url else "?") + "error=" + quote(error)
    if notice:
        url += ("&" if "?" in url else "?") + "notice=" + quote(notice)
    return RedirectResponse(url, status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    signed_in(request)
    return RedirectResponse("/live", status_code=303)


def _signin_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    token = secrets.token_urlsafe(16)
    response = page(
        "signin.html", request, status, title="Sign in", page="", signin_token=token, error=error
    )
    response.set_cookie(
        SIGNIN_COOKIE, token, max_age=3600, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/signin",
    )  # fmt: skip
    return response


@router.get("/signin")
def signin_form(request: Request) -> Response:
    return _signin_page(request)


@router.post("/signin")
def signin(
    request: Request, key: str = Form(max_length=200), token: str = Form("", max_length=100)
) -> Response:
    expected = request.cookies.get(SIGNIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        return _signin_page(
            request, 403, "The sign-in form expired or came from elsewhere: try again."
        )
    session_id = sessions(request).start(key.strip())
    if session_id is None:
        return _signin_page(request, 401, "That key is unknown or revoked.")
    response = RedirectResponse("/live", status_code=303)
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    response.set_cookie(
        COOKIE, session_id, max_age=TTL_S, httponly=True, samesite="strict",
        secure=request.url.scheme == "https", path="/",
    )  # fmt: skip
    return response


@router.post("/signout")
def signout(request: Request, csrf: str = Form("")) -> Response:
    session = signed_in(request)
    check_csrf(session, csrf)
    sessions(request).end(request.cookies.get(COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/people")
def people_home(request: Request) -> Response:
    session = signed_in(request)
    names = visible_collections(request, session)
    if not names:
        raise Problem(403, f"key {session.key.key_id}: expected a key with a collection")
    return RedirectResponse(f"/people/{names[0]}", status_code=303)


@router.get("/people/{collection}")
def people(
    request: Request,
    collection: str,
    offset: int = Query(0, ge=0, le=1_000_000),
) -> Response:
    session = signed_in(request)
    require_collection(request, session, "read", collection)
    client = context(request).services.redis
    gallery = context(request).gallery(collection)
    # one HGETALL and a page of rows, not a round trip per person: 1,000 people stay fast
    everyone = sorted(
        ((text(pid), text(name)) for pid, name in client.hgetall(gallery.people.by_id).items()),
        key=lambda row: row[1],
    )
    shown = [p for pid, _ in everyone[offset : offset + PAGE] if (p := gallery.people.get(pid))]
    return page(
        "people.html", request, title="People", page="People", session=session,
        collections=visible_collections(request, session), collection=collection,
        people=shown, total=len(everyone), offset=offset, limit=PAGE,
        thumbs=thumbnails.first_of(client, [p.person_id for p in shown]),
    )  # fmt: skip


def require_collection(request: Request, session, role: str, collection: str) -> None:
    if not COLLECTION_RE.fullmatch(collection):
        raise Problem(422, f"collection: expected a collection name, got {collection[:40]!r}")
    allow(session.key, role, collection)
    if not context(request).collections.exists(collection):
        raise Problem(404, f"collection {collection!r}: no such collection", "collection")


def _person_id(person_id: str) -> str:
    if not PERSON_ID_RE.fullmatch(person_id):
        raise Problem(422, f"person_id: expected p-<12 hex digits>, got {person_id[:40]!r}")
    return person_id


@router.get("/people/{collection}/{person_id}/thumbs/{face_id}")
def thumbnail(request: Request, collection: str, person_id: str, face_id: str) -> Response:
    session = signed_in(request)
    require_collection(request, session, "read", collection)
    gallery = context(request).gallery(collection)
    if gallery.people.get(_person_id(person_id)) is None:
        raise Problem(404, f"person {person_id!r}: not in collection {collection!r}", "person_id")
    jpeg = thumbnails.get(context(request).services.redis, person_id, face_id[:24])
    if jpeg is None:
        raise Problem(404, f"face {face_id[:24]!r}: no thumbnail", "face_id")
    return Response(
        jpeg, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=600"}
    )


@router.post("/people/{collection}/new")
def create_person(
    request: Request, collection: str, csrf: str = Form(""), name: str = Form(max_length=100)
) -> Response:
    session = signed_in(request)
    check_csrf(session, csrf)
    require_collection(request, session, "write", collection)
    people_of = context(request).gallery(collection).people
    if people_of.find(name) is not None:
        return redirect_back(f"/people/{collection}", error=f"{name.strip()!r} exists already")
    try:
        people_of.get_or_create(name)
    except ConfigError as exc:
        return redirect_back(f"/people/{collection}", error=str(exc))
    return redirect_back(f"/people/{collection}", notice=f"added {name.strip()}")


@router.post("/people/{collection}/{person_id}/rename")
def rename_person(
    request: Request,
    collection: str,
    person_id: str,
    csrf: str = Form(""),
    name: str = Form(max_length=100),
) -> Response:
    session = signed_in(request)
    check_csrf(session, csrf)
    require_collection(request, session, "write", collection)
    people_of = context(request).gallery(collection).people
    if people_of.get(_person_id(person_id)) is None:
        raise Problem(404, f"person {person_id!r}: not in collection {collection!r}", "person_id")
    try:
        new = people_of.rename(person_id, name)
    except ConfigError as exc:
        return redirect_back(f"/people/{collection}", error=str(exc))
    return redirect_back(f"/people/{collection}", notice=f"renamed to {new}")


@router.post("/people/{collection}/{person_id}/delete")
def delete_person(request: Request, collection: str, person_id: str, csrf: str = Form("")):
    from facestream.erasure import erase_person

    session = signed_in(request)
    check_csrf(session, csrf)
    require_collection(request, session, "write", collection)
    person = context(request).gallery(collection).people.get(_person_id(person_id))
    if person is None:
        raise Problem(404, f"person {person_id!r}: not in collection {collection!r}", "person_id")
    erase_person(context(request).services, collection, person_id)
    return redirect_back(f"/people/{collection}", notice=f"erased {person.name}")


@router.get("/system")
def system(request: Request) -> Response:
    session = signed_in(request)
    found = stack_status.gather(context(request).services.redis)
    if session.key.role != "admin":  # a tenant sees only the cameras of its collection
        bound = context(request).collections
        found["cameras"] = [
            c for c in found["cameras"] if bound.of_camera(c["camera"]) == session.key.collection
        ]
    return page("system.html", request, title="System", page="System", session=session,
                status=found)  # fmt: skip
