"""The app factory: routes, errors and metrics around an :class:`ApiContext`."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from facestream.api import problems
from facestream.api.context import ApiContext
from facestream.api.routes import (
    cameras,
    collections,
    health,
    keys,
    live,
    people,
    recognize,
    reports,
    unknowns,
)

log = logging.getLogger(__name__)


def create_app(ctx: ApiContext) -> FastAPI:
    app = FastAPI(
        title="facestream",
        version="1",
        description="Face recognition for photos and video: collections, people, faces, "
        "identify, look-alike search, cameras and live results. Every endpoint but "
        "/v1/health needs `Authorization: Bearer KEY` (`facestream keys create`).",
    )
    app.state.context = ctx
    registry = CollectorRegistry()
    app.state.metrics = registry
    # labels are the route template and status, never the URL: no names, ids or keys in metrics
    requests = Counter(
        "facestream_api_requests", "API requests", ["method", "route", "status"], registry=registry
    )
    seconds = Histogram(
        "facestream_api_request_seconds", "API request time", ["route"], registry=registry
    )
    limit = int(ctx.settings.api.max_upload_mb * 1_000_000) * ctx.settings.api.max_files

    @app.middleware("http")
    async def account(request: Request, call_next):
        started = time.perf_counter()
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit + 1_000_000:
            # refused before the body is read: the multipart parser never spools it
            response = problems.problem_response(
                413, f"request body: expected at most {limit} bytes, got {declared}", "body"
            )
        else:
            response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        requests.labels(request.method, template, str(response.status_code)).inc()
        seconds.labels(template).observe(time.perf_counter() - started)
        return response

    problems.install(app)
    for module in (
        health, collections, people, recognize, cameras, live, unknowns, reports, keys
    ):  # fmt: skip
        app.include_router(module.router)
    from facestream.web.app import install

    install(app)  # the web pages at /: they call the routes above with a session cookie
    return app
