"""The Live pages: a tile per camera, and one camera's frames with its faces drawn on them.

The grabber keeps each camera's recent frames (JPEG) in its frames stream and the matcher writes
one record per tracked face to the results stream, with the frame's number and capture time. The
stream below follows the results; when results for a frame come in, it finds that frame in the
frames stream by its capture time, draws their boxes, names or unknown labels and track ids on that frame (OpenCV) and sends it
as a Server-Sent Event with its capture time, so the page can show capture-to-drawn latency.
When the pipeline falls behind, only the newest processed frame is drawn: the view keeps pace.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator

import cv2
import numpy as np
import redis.asyncio as aioredis
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response, StreamingResponse

from facestream import status as stack_status
from facestream.api.auth import context
from facestream.api.problems import Problem
from facestream.api.routes.live import RecordFilter, _decode
from facestream.services import connect_redis_async
from facestream.web.render import page, signed_in
from workers import keys
from workers.bus import FIELD
from workers.messages import FrameMsg
from workers.replies import stream_entries, stream_reply, text

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)
CameraPath = Path(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
IDLE_FRAME_S = 1.0  # no faces for this long: send the newest frame undrawn, the view stays live
KEEPALIVE_S = 15.0


def _cameras(request: Request, session) -> list[dict]:
    found = stack_status.gather(context(request).services.redis)["cameras"]
    if session.key.role == "admin":
        return found
    bound = context(request).collections
    return [c for c in found if bound.of_camera(c["camera"]) == session.key.collection]


@router.get("/live")
def live(request: Request) -> Response:
    session = signed_in(request)
    return page("live.html", request, title="Live", page="Live", session=session,
                cameras=_cameras(request, session))  # fmt: skip


@router.get("/live/{camera}")
def camera_page(request: Request, camera: str = CameraPath) -> Response:
    session = signed_in(request)
    shown = {c["camera"]: c for c in _cameras(request, session)}
    if camera not in shown:
        raise Problem(404, f"camera {camera!r}: no such camera for this key", "camera")
    return page("camera.html", request, title=f"Live: {camera}", page="Live", session=session,
                camera=shown[camera])  # fmt: skip


GREEN, AMBER = (80, 200, 80), (0, 170, 255)  # BGR: named, unknown


def draw(jpeg: bytes, records: list[dict]) -> bytes:
    """The frame with a box, a label and a track id per face record."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("frame: expected a JPEG the grabber wrote, got undecodable bytes")
    for r in records:
        x1, y1, x2, y2 = (int(v) for v in r["bbox"])
        colour = GREEN if r.get("name") else AMBER
        label = f"{r.get('label') or 'unknown'} #{r.get('track_id')}"
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, 2)
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        top = max(0, y1 - th - 6)
        left = max(0, min(x1, image.shape[1] - tw - 4))  # the whole label stays in the frame
        cv2.rectangle(image, (left, top), (left + tw + 4, top + th + 6), colour, -1)
        cv2.putText(image, label, (left + 2, top + th + 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)  # fmt: skip
    ok, out = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    if not ok:
        raise ValueError("frame: JPEG encoding of the drawn frame failed")
    return out.tobytes()


def _event(msg: FrameMsg, records: list[dict]) -> bytes:
    jpeg = draw(msg.jpeg or b"", records) if records else msg.jpeg or b""
    data = {
        "frame": msg.seq,
        "capture_time": msg.capture_time,
        "faces": [{k: r.get(k) for k in ("label", "name", "track_id", "score")} for r in records],
        "jpeg": base64.b64encode(jpeg).decode(),
        "sent_time": time.time(),  # capture -> sent is the pipeline and this server; the rest, transit
    }
    return f"event: frame\ndata: {json.dumps(data)}\n\n".encode()


async def _last_id(client: aioredis.Redis, stream: str) -> str:
    if not await client.exists(stream):
        return "0-0"
    return text((await client.xinfo_stream(stream))["last-generated-id"])


async def _frame(client: aioredis.Redis, stream: str, record: dict) -> FrameMsg | None:
    """The frame of a result record, found near its capture time in the frames stream (the
    grabber adds it right after capture; entry ids are Redis' clock in ms)."""
    since = int(float(record["capture_time"]) * 1000) - 2000
    found = stream_entries(await client.xrange(stream, min=f"{since}-0", max="+", count=200))
    for _eid, fields in found:
        msg = FrameMsg.from_bytes(bytes(fields[FIELD]))
        if msg.seq == record["frame"] and msg.run == record.get("run", msg.run) and msg.jpeg:
            return msg
    return None


async def _newest(client: aioredis.Redis, stream: str) -> FrameMsg | None:
    for _eid, fields in stream_entries(await client.xrevrange(stream, count=1)):
        msg = FrameMsg.from_bytes(bytes(fields[FIELD]))
        return msg if msg.jpeg else None
    return None


@router.get("/live/{camera}/frames")
async def frames(request: Request, camera: str = CameraPath) -> StreamingResponse:
    session = signed_in(request)
    ctx = context(request)
    scope = None if session.key.role == "admin" else session.key.collection
    wanted = RecordFilter(ctx.services.redis, scope, camera, named=False)
    url = ctx.services.endpoints.redis_url
    frames_key = keys.frames(camera)
    results = keys.in_shard_of(keys.RESULTS, camera)  # the camera's records are all in its shard's

    async def stream() -> AsyncIterator[bytes]:
        settings = ctx.settings
        client = connect_redis_async(url, settings.redis_tls_ca_file, settings.redis_cluster)
        last = await _last_id(client, results)
        sent_at = quiet_since = time.monotonic()
        sent_seq, idle_seq = -1, -1
        try:
            yield b": connected\n\n"
            while not await request.is_disconnected():
                reply = await client.xread({results: last}, block=200, count=500)
                by_frame: dict[int, list[dict]] = {}
                for _name, entries in stream_reply(reply):
                    for eid, fields in entries:
                        last = text(eid)
                        record = _decode(fields)
                        if record and "bbox" in record and wanted.wants(record):
                            by_frame.setdefault(int(record["frame"]), []).append(record)
                now = time.monotonic()
                newer = [seq for seq in by_frame if seq > sent_seq]
                if newer:
                    seq = max(newer)  # behind: skip to the newest processed frame
                    msg = await _frame(client, frames_key, by_frame[seq][0])
                    if msg is not None:
                        yield await asyncio.to_thread(_event, msg, by_frame[seq])
                        sent_seq, sent_at, quiet_since = seq, now, now
                elif now - sent_at > IDLE_FRAME_S:
                    # no faces lately: the newest frame as it is, so the view stays live
                    msg = await _newest(client, frames_key)
                    if msg is not None and msg.seq != idle_seq:
                        yield await asyncio.to_thread(_event, msg, [])
                        idle_seq, quiet_since = msg.seq, now
                    sent_at = now
                if now - quiet_since > KEEPALIVE_S:
                    yield b": keepalive\n\n"
                    quiet_since = now
        finally:
            await client.aclose()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
