"""Health (no key) and Prometheus metrics (any valid key)."""

from __future__ import annotations

import redis
from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from facestream.api.auth import caller, context
from facestream.api.problems import problem_response
from facestream.apikeys import ApiKey

router = APIRouter(tags=["health"])


@router.get("/v1/health")
def health(request: Request) -> Response:
    try:
        context(request).services.redis.ping()
    except (redis.RedisError, OSError) as exc:
        return problem_response(503, f"Redis: not reachable ({type(exc).__name__})")
    return Response('{"status":"ok"}', media_type="application/json")


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _key: ApiKey = Depends(caller)) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
