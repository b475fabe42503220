"""Cameras of the stack (admin keys): as `cameras add/rm`; source URLs are shown redacted."""

from __future__ import annotations

from pathlib import Path as FsPath

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel, Field

from config.redact import redact_url
from facestream import cameras as cams
from facestream.api.auth import allow, caller, context
from facestream.api.models import COLLECTION, Body
from facestream.api.problems import Problem
from facestream.apikeys import ApiKey
from workers import keys
from workers.replies import text_map

router = APIRouter(prefix="/v1/cameras", tags=["cameras"])
CameraPath = Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="a camera name")


class CameraIn(Body):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    url: str = Field(min_length=1, max_length=2000, description="file path or rtsp/http(s) URL")
    collection: str = Field("default", pattern=COLLECTION)


class CameraOut(BaseModel):
    name: str
    source: str = Field(description="the URL without credentials")
    collection: str
    state: str
    info: dict[str, str] = Field(default_factory=dict)


def _camera(request: Request, name: str, url: str) -> CameraOut:
    client = context(request).services.redis
    info = text_map(client.hgetall(keys.camera_info(name)))
    info.pop("source", None)  # the grabber's copy: redacted already, but one field says it
    return CameraOut(
        name=name,
        source=redact_url(url),
        collection=context(request).collections.of_camera(name),
        state=info.get("state", "starting"),
        info=info,
    )


@router.get("", response_model=list[CameraOut])
def list_cameras(request: Request, key: ApiKey = Depends(caller)) -> list[CameraOut]:
    allow(key, "admin", None)
    sources = cams.sources(context(request).services.redis)
    return [_camera(request, n, u) for n, u in sorted(sources.items())]


@router.get("/{name}", response_model=CameraOut)
def get_camera(
    request: Request, name: str = CameraPath, key: ApiKey = Depends(caller)
) -> CameraOut:
    allow(key, "admin", None)
    url = cams.sources(context(request).services.redis).get(name)
    if url is None:
        raise Problem(404, f"camera {name!r}: no such camera", "name")
    return _camera(request, name, url)


@router.post("", status_code=201, response_model=CameraOut)
def add_camera(body: CameraIn, request: Request, key: ApiKey = Depends(caller)) -> CameraOut:
    allow(key, "admin", None)
    ctx = context(request)
    if not ctx.collections.exists(body.collection):
        raise Problem(404, f"collection {body.collection!r}: no such collection", "collection")
    client = ctx.services.redis
    if body.name in cams.sources(client):
        raise Problem(409, f"camera {body.name!r}: exists already", "name")
    # bound first: the camera manager may start the grabber as soon as the source is stored
    ctx.collections.bind_camera(body.name, body.collection)
    cams.add(client, body.name, body.url, FsPath(ctx.settings.data_dir))
    return _camera(request, body.name, body.url)


@router.delete("/{name}", status_code=204)
def remove_camera(
    request: Request, name: str = CameraPath, key: ApiKey = Depends(caller)
) -> Response:
    allow(key, "admin", None)
    if not cams.remove(context(request).services.redis, name):
        raise Problem(404, f"camera {name!r}: no such camera", "name")
    return Response(status_code=204)
