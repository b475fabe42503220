"""Bearer keys: who may do what. Missing or unknown key -> 401; a key without the right -> 403."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from facestream.api.context import ApiContext
from facestream.api.problems import Problem
from facestream.apikeys import ApiKey

bearer = HTTPBearer(auto_error=False, description="an API key: `facestream keys create`")


def context(request: Request) -> ApiContext:
    return request.app.state.context


def caller(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> ApiKey:
    if credentials is None:
        signed_in = _session_key(request)
        if signed_in is not None:
            return signed_in
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(401, "Authorization: expected 'Bearer KEY'", "Authorization")
    key = context(request).keys.check(credentials.credentials)
    if key is None:
        # the key itself is never echoed or logged
        raise Problem(401, "Authorization: the key is unknown or revoked", "Authorization")
    return key


def allow(key: ApiKey, role: str, collection: str | None) -> None:
    if not key.allows(role, collection):
        where = f"collection {collection!r}" if collection else "this resource (admin only)"
        raise Problem(
            403,
            f"key {key.key_id} ({key.role}"
            + (f" of {key.collection!r}" if key.collection else "")
            + f"): expected a {role} key of {where}",
        )


def _session_key(request: Request) -> ApiKey | None:
    """The key of a signed-in browser (the web pages call the API with their cookie); a
    state-changing request must also carry the session's CSRF token."""
    from facestream.web.sessions import COOKIE, SAFE_METHODS, Sessions, csrf_ok

    session = Sessions(context(request).services.redis).get(request.cookies.get(COOKIE))
    if session is None:
        return None
    if request.method not in SAFE_METHODS and not csrf_ok(
        session, request.headers.get("x-csrf-token")
    ):
        raise Problem(403, "X-CSRF-Token: expected the token of this session", "X-CSRF-Token")
    return session.key
