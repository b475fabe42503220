"""The Activity page (who was seen on which camera when: a timeline per camera from the tracks in
the results stream, filtered by person) and the Search page (drop a photo: who it is, and the
look-alikes; the page calls the API's identify and search with its session)."""

from __future__ import annotations

import time
from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from facestream.api.problems import Problem
from facestream.api.routes.live import tracks
from facestream.web.pages import require_collection
from facestream.web.render import page, signed_in, visible_collections

router = APIRouter(include_in_schema=False)


def _clock(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "now"


@router.get("/activity")
def activity(
    request: Request,
    person: str = Query("", max_length=100),
    hours: int = Query(24, ge=1, le=168),
) -> Response:
    session = signed_in(request)
    now = time.time()
    since = now - hours * 3600
    scope = None if session.key.role == "admin" else session.key.collection
    found = tracks(request, None, scope, since, 5000, session.key)
    names = sorted({t.name for t in found if t.name})
    if person.strip():
        found = [t for t in found if t.name == person.strip()]
    start = min((t.start for t in found), default=since)
    span = max(now - start, 1.0)
    cameras: dict[str, list[dict]] = {}
    for t in sorted(found, key=lambda t: t.start):
        end = t.end or now
        cameras.setdefault(t.camera, []).append(
            {
                "track_id": t.track_id, "name": t.name,
                "left": round(100 * (t.start - start) / span, 2),
                "width": round(max(100 * (end - t.start) / span, 0.3), 2),
                "start_text": _clock(t.start), "end_text": _clock(t.end),
                "seconds": round(end - t.start, 1),
            }
        )  # fmt: skip
    return page(
        "activity.html", request, title="Activity", page="Activity", session=session,
        cameras=dict(sorted(cameras.items())), names=names, person=person.strip(), hours=hours,
        span_start=_clock(start), span_end=_clock(now),
    )  # fmt: skip


@router.get("/search")
def search_home(request: Request) -> Response:
    session = signed_in(request)
    names = visible_collections(request, session)
    if not names:
        raise Problem(403, f"key {session.key.key_id}: expected a key with a collection")
    return RedirectResponse(f"/search/{names[0]}", status_code=303)


@router.get("/search/{collection}")
def search(request: Request, collection: str) -> Response:
    session = signed_in(request)
    require_collection(request, session, "read", collection)
    return page(
        "search.html", request, title="Search", page="Search", session=session,
        collections=visible_collections(request, session), collection=collection,
    )  # fmt: skip
