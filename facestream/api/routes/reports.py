"""Reports over HTTP: screen time (JSON, CSV or a PNG chart) and a person's timeline.

The same reports as `facestream report screen-time` and `facestream timeline`, read from the
records still held by the results stream (its retention is ``bus.results_maxlen``), restricted
to the cameras that watch with the caller's collection.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from facestream.api.auth import caller, context
from facestream.api.models import COLLECTION
from facestream.api.routes.live import RecordFilter, read_scope
from facestream.apikeys import ApiKey
from facestream.indexing.unknown_review import name_records
from facestream.reports import records as rec
from facestream.reports import tables
from facestream.reports.screen_time import BRIDGE_S, screen_time

router = APIRouter(prefix="/v1/reports", tags=["reports"])
CAMERA = r"^[A-Za-z0-9_.-]{1,64}$"


class ScreenTimeOut(BaseModel):
    name: str
    unknown: bool
    camera: str
    seconds: float
    appearances: int
    first_seen: float  # seconds into the run's source
    last_seen: float
    runs: int


class AppearanceOut(BaseModel):
    name: str
    camera: str
    run: str
    start: float  # seconds into the run's source
    end: float
    seconds: float


def _is_face_record(r: object) -> bool:
    """What the reports need of a face record (the matcher writes them; a stray entry is skipped,
    not a server error)."""
    return (
        isinstance(r, dict)
        and "event" not in r
        and isinstance(r.get("camera"), str)
        and isinstance(r.get("track_id"), str)
        and type(r.get("frame")) is int
        and isinstance(r.get("ts"), (int, float))
    )


def _face_records(
    request: Request, key: ApiKey, collection: str | None, camera: str | None, run: str | None
) -> list[dict]:
    """The face records of the caller's collection's cameras, named as review named them."""
    scope = read_scope(key, collection)
    client = context(request).services.redis
    wanted = RecordFilter(client, scope, camera, named=False)
    kept = [r for r in rec.read_stream(client) if _is_face_record(r) and wanted.wants(r)]
    return name_records(client, rec.faces(kept, camera, run))


@router.get(
    "/screen-time",
    response_model=list[ScreenTimeOut],
    responses={200: {"content": {"text/csv": {}, "image/png": {}}}},
)
def screen_time_report(
    request: Request,
    collection: str | None = Query(None, pattern=COLLECTION),
    camera: str | None = Query(None, pattern=CAMERA),
    run: str | None = Query(None, pattern=r"^[A-Za-z0-9_.-]{1,80}$"),
    bridge_s: float = Query(BRIDGE_S, ge=0.0, le=3600.0, description="gaps bridged, seconds"),
    format: Literal["json", "csv", "png"] = Query("json"),
    timeline: bool = Query(False, description="png: each appearance along the time axis"),
    key: ApiKey = Depends(caller),
) -> Response | list[ScreenTimeOut]:
    """Seconds on screen per person (and unknown label) per camera."""
    rows = screen_time(_face_records(request, key, collection, camera, run), bridge_s)
    if format == "csv":
        return Response(tables.as_csv(rows), media_type="text/csv")
    if format == "png":
        from facestream.reports.plots import chart_png

        return Response(chart_png(rows, timeline), media_type="image/png")
    return [ScreenTimeOut(**s.as_dict()) for s in rows]


@router.get("/timeline", response_model=list[AppearanceOut])
def timeline_report(
    request: Request,
    name: str = Query(..., min_length=1, max_length=200),
    collection: str | None = Query(None, pattern=COLLECTION),
    camera: str | None = Query(None, pattern=CAMERA),
    bridge_s: float = Query(BRIDGE_S, ge=0.0, le=3600.0),
    key: ApiKey = Depends(caller),
) -> list[AppearanceOut]:
    """When a person (or an unknown label) was on screen: one row per appearance."""
    rows = screen_time(_face_records(request, key, collection, camera, None), bridge_s)
    return [AppearanceOut(**r) for r in tables.timeline_rows([s for s in rows if s.name == name])]
