"""Errors as ``application/problem+json`` (RFC 9457), each naming the field and what was expected.

Every refusal goes through :class:`Problem`; FastAPI's own validation errors and
HTTP errors are rewritten into the same shape, and anything unexpected becomes
a 500 problem without internals (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from config.errors import ConfigError, StackError

log = logging.getLogger(__name__)
MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    503: "Service unavailable",
}


class Problem(Exception):
    """A refused request: HTTP status, the field at fault (if any), and what was expected."""

    def __init__(self, status: int, detail: str, field: str | None = None, **extra: object):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
    **extra,
) -> JSONResponse:
    body: dict = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status}
    body["detail"] = detail
    if field is not None:
        body["field"] = field
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _field(loc) -> str:
    # ("body", "image") -> "image"; ("query", "k") -> "k"
    parts = [str(p) for p in loc[1:]] if len(loc) > 1 else [str(p) for p in loc]
    return ".".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem_response(exc.status, exc.detail, exc.field, headers, **exc.extra)

    @app.exception_handler(ConfigError)
    async def _config(_request: Request, exc: ConfigError) -> JSONResponse:
        return problem_response(422, str(exc))

    @app.exception_handler(StackError)
    async def _stack(_request: Request, exc: StackError) -> JSONResponse:
        return problem_response(503, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        field = _field(first.get("loc", ()))
        detail = f"{field or 'request'}: {first.get('msg', 'invalid')}"
        if "input" in first and not isinstance(first["input"], (bytes, dict, list)):
            detail += f", got {str(first['input'])[:80]!r}"
        invalid = [
            {"field": _field(e.get("loc", ())), "expected": e.get("msg", "")} for e in errors
        ]
        return problem_response(422, detail, field or None, errors=invalid)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path)
        return problem_response(500, f"internal error ({type(exc).__name__}); see the server log")
