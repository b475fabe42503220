"""Mounts the web pages and their static files on the API's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from facestream.web import activity, live, pages, review
from facestream.web.render import HERE, SignInNeeded


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInNeeded)
    async def sign_in_first(request: Request, exc: SignInNeeded) -> RedirectResponse:
        return RedirectResponse("/signin", status_code=303)

    for module in (pages, live, review, activity):
        app.include_router(module.router)
