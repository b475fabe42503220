"""Live results: Server-Sent Events from the results streams, tracks, unknown faces (read keys).

The SSE id of each event is the reader's position in the results streams (its stream id, with
one shard), so a client that comes back with ``Last-Event-ID`` continues right after the last
event it saw: nothing lost, nothing twice, and the API keeps no state of its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

import msgpack
import redis
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from facestream.api.auth import allow, caller, context
from facestream.api.models import COLLECTION
from facestream.api.problems import Problem
from facestream.apikeys import ApiKey
from facestream.indexing.unknown_review import label_names
from facestream.services import connect_redis_async
from workers import keys, result_streams
from workers.bus import FIELD
from workers.gallery.collections import DEFAULT
from workers.gallery.unknowns import list_unknowns
from workers.replies import text

router = APIRouter(prefix="/v1", tags=["live"])
KEEPALIVE_S = 15.0
BINDINGS_TTL_S = 2.0


def read_scope(key: ApiKey, collection: str | None) -> str | None:
    """The collection a request reads (None: all, admin only)."""
    if collection is None and key.role != "admin":
        collection = key.collection
    allow(key, "read", collection)
    return collection


class RecordFilter:
    """Which records a subscriber sees: its collection's cameras, one camera, named only."""

    def __init__(
        self, client: redis.Redis, collection: str | None, camera: str | None, named: bool
    ):
        self.redis = client
        self.collection = collection
        self.camera = camera
        self.named = named
        self._bindings: dict[str, str] = {}
        self._read_at = -1e9

    def collection_of(self, camera: str) -> str:
        if time.monotonic() - self._read_at > BINDINGS_TTL_S:
            raw = self.redis.hgetall(keys.CAMERA_COLLECTIONS)
            self._bindings = {text(k): text(v) for k, v in raw.items()}
            self._read_at = time.monotonic()
        return self._bindings.get(camera, DEFAULT)

    def wants(self, record: dict) -> bool:
        camera = record.get("camera")
        if self.camera is not None and camera != self.camera:
            return False
        if self.named and not record.get("name"):
            return False
        return self.collection is None or self.collection_of(str(camera)) == self.collection


class RecentEvents:
    """Records and their JSON, made once per process however many subscribers send them (they
    read the same entries at about the same time). Forgotten every few seconds, so that a record
    erased from the stream does not stay in this process's memory either; only ever read."""

    def __init__(self, keep_s: float = 5.0):
        self.keep_s = keep_s
        self._made: dict[bytes, tuple[dict | None, str]] = {}
        self._since = time.monotonic()

    def __call__(self, payload: bytes | None) -> tuple[dict | None, str]:
        if payload is None:
            return None, ""
        if time.monotonic() - self._since > self.keep_s:
            self._made.clear()
            self._since = time.monotonic()
        made = self._made.get(payload)
        if made is None:
            record = _decode({FIELD: payload})
            made = self._made[payload] = record, "" if record is None else json.dumps(record)
        return made


_event_of = RecentEvents()


def _decode(fields: dict) -> dict | None:
    try:
        record = msgpack.unpackb(fields[FIELD], raw=False)
    except (KeyError, ValueError, msgpack.UnpackException):
        return None
    return record if isinstance(record, dict) else None


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE of records"}},
)
async def events(
    request: Request,
    camera: str | None = Query(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$"),
    collection: str | None = Query(None, pattern=COLLECTION),
    named: bool = Query(False, description="only records with a name"),
    from_start: bool = Query(False, description="replay the results stream from its start"),
    last_event_id: str | None = Header(None, description="resume after this event id"),
    key: ApiKey = Depends(caller),
) -> StreamingResponse:
    scope = read_scope(key, collection)
    try:
        start = None if last_event_id is None else result_streams.Position.parse(last_event_id)
    except ValueError as exc:
        raise Problem(422, f"Last-Event-ID: {exc}", "Last-Event-ID") from None
    ctx = context(request)
    sync_client = ctx.services.redis
    wanted = RecordFilter(sync_client, scope, camera, named)
    if start is None:  # pin "now" to ids, so a reconnect-free read loop never skips
        start = (
            result_streams.Position.at("0-0") if from_start else result_streams.newest(sync_client)
        )

    async def stream() -> AsyncIterator[bytes]:
        settings = ctx.settings
        url = ctx.services.endpoints.redis_url
        client = connect_redis_async(url, settings.redis_tls_ca_file, settings.redis_cluster)
        quiet_since = time.monotonic()
        try:
            yield b": connected\n\n"
            while not await request.is_disconnected():
                # a read's events go out as one write: per-write costs, not per-event ones
                chunk = []
                for entry in await result_streams.read_async(client, start, 200, block_ms=1000):
                    start.passed(entry)
                    record, data = _event_of(entry[2].get(FIELD))
                    if record is None or not wanted.wants(record):  # Redis at most every 2 s
                        continue
                    kind = "lifecycle" if "event" in record else "face"
                    chunk.append(f"id: {start}\nevent: {kind}\ndata: {data}\n\n")
                if chunk:
                    yield "".join(chunk).encode()
                    quiet_since = time.monotonic()
                if time.monotonic() - quiet_since > KEEPALIVE_S:
                    yield b": keepalive\n\n"
                    quiet_since = time.monotonic()
        finally:
            await client.aclose()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


class TrackOut(BaseModel):
    track_id: str
    camera: str
    start: float  # wall clock, epoch seconds (from the stream id of its start event)
    end: float | None
    start_ts: float  # position in the source, seconds
    end_ts: float | None
    name: str | None
    score: float | None
    label: str | None = None  # the unknown label its faces were given, if any


@router.get("/tracks", response_model=list[TrackOut])
def tracks(
    request: Request,
    camera: str | None = Query(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$"),
    collection: str | None = Query(None, pattern=COLLECTION),
    since: float = Query(0.0, ge=0.0, le=1e11, description="epoch seconds"),
    limit: int = Query(1000, ge=1, le=10000),
    key: ApiKey = Depends(caller),
) -> list[TrackOut]:
    """Tracks from the lifecycle events still in the results stream (within its retention); a
    track whose unknown label was labelled as a person since carries the person's name."""
    scope = read_scope(key, collection)
    client = context(request).services.redis
    wanted = RecordFilter(client, scope, camera, named=False)
    found: dict[tuple[str, str], TrackOut] = {}
    labels: dict[tuple[str, str], str] = {}  # (camera, track) -> unknown label of its faces
    for _stream, eid, fields in result_streams.scan(client, f"{int(since * 1000)}-0"):
        record = _decode(fields)
        if record is None or not wanted.wants(record):
            continue
        if "event" not in record:
            label = record.get("label")
            if not record.get("name") and isinstance(label, str) and label.startswith("unknown-"):
                labels[(str(record.get("camera")), str(record.get("track_id")))] = label
            continue
        wall = int(eid.split("-")[0]) / 1000
        ident = (record["camera"], record["track_id"])
        track = found.get(ident)
        if track is None:
            if len(found) >= limit:
                break
            track = found[ident] = TrackOut(
                track_id=record["track_id"],
                camera=record["camera"],
                start=wall,
                end=None,
                start_ts=record["ts"],
                end_ts=None,
                name=None,
                score=None,
            )
        if record.get("name"):
            track.name, track.score = record["name"], record.get("score")
        if record["event"] in ("end", "merged"):
            track.end, track.end_ts = wall, record["ts"]
    names: dict[str, dict[str, str]] = {}  # collection -> label -> name, read once each
    for ident, track in found.items():
        track.label = labels.get(ident)
        if track.name is None and track.label is not None:
            of = scope or wanted.collection_of(track.camera)
            if of not in names:
                names[of] = label_names(client, of)
            track.name = names[of].get(track.label)
    return list(found.values())[:limit]


class UnknownOut(BaseModel):
    label: str
    tracks: int
    faces: int
    first_seen: float
    last_seen: float
    cameras: list[str]


@router.get("/unknowns", response_model=list[UnknownOut])
def unknowns(
    request: Request,
    collection: str | None = Query(None, pattern=COLLECTION),
    key: ApiKey = Depends(caller),
) -> list[UnknownOut]:
    scope = read_scope(key, collection) or DEFAULT
    found = list_unknowns(context(request).services.redis, scope)
    return [UnknownOut(**{**u.__dict__, "cameras": list(u.cameras)}) for u in found]
