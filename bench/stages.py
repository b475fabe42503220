"""Per-stage time per frame: the real handlers and the real Redis bus, in one process, one frame at a time.

Each frame goes decode -> JPEG encode (the grabber's work) -> bus hop -> detect
-> bus hop -> track -> bus hop -> embed -> bus hop -> match, and every piece is
timed: the video decode, every JPEG encode/decode (frames and chips), MTCNN,
the rest of the detector (histogram, crops), the tracker, the embedder's model,
the matcher (Milvus search included) and the bus (msgpack + XADD + XREADGROUP +
XACK per hop). Sequential, so the times add up to the cost of a frame; parallel
stages in the real pipeline overlap them. Everything is timed in CPU seconds
(torch on one thread, as in a worker), so that other load on the machine does
not inflate it: the bus is this process's CPU in msgpack and redis-py plus the
Redis server's CPU over the run.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from operator import attrgetter
from pathlib import Path

import cv2

import workers.detect as detect_mod
import workers.embed as embed_mod
from bench import procstat
from bench.accuracy import precision_recall
from config.settings import Settings
from facestream.services import Services
from workers import codec
from workers.messages import FrameMeta, FrameMsg

HOP_STREAM = "fs:bench:hop"
HOP_GROUP = "bench"


class Timers:
    def __init__(self) -> None:
        self.s: dict[str, float] = defaultdict(float)

    def wrap(self, label: str, fn):
        def timed(*args, **kwargs):
            t = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                self.s[label] += time.process_time() - t

        return timed


def stage_profile(services: Services, settings: Settings, clip: Path, max_frames: int = 0) -> dict:
    import torch

    torch.set_num_threads(max(1, settings.torch_threads))
    timers = Timers()
    services = Services(
        settings, services.endpoints
    )  # the handlers are built from the row's settings
    handlers = {kind: services.handler(kind) for kind in ("detect", "track", "embed", "match")}
    det, emb = handlers["detect"], handlers["embed"]
    if hasattr(det.detector, "detect_many"):  # detect() calls detect_many(): time one of them only
        det.detector.detect_many = timers.wrap("detect", det.detector.detect_many)
    else:
        det.detector.detect = timers.wrap("detect", det.detector.detect)
    emb.embedder.embed = timers.wrap("embed", emb.embedder.embed)
    patched = {
        (detect_mod, "decode_jpeg"): detect_mod.decode_jpeg,
        (detect_mod, "encode_jpeg"): detect_mod.encode_jpeg,
        (embed_mod, "decode_jpeg"): embed_mod.decode_jpeg,
    }
    for (mod, name), fn in patched.items():
        setattr(mod, name, timers.wrap("jpeg", fn))
    bus = services.bus
    redis_pids = [
        p for p in procstat.descendants(os.getpid()) if procstat.process_name(p) == "redis"
    ]
    redis_cpu0 = sum(procstat.cpu_seconds(p) for p in redis_pids)
    services.redis.delete(HOP_STREAM)
    bus.ensure_group(HOP_STREAM, HOP_GROUP)
    camera = f"stages-{int(time.time())}"
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    totals = defaultdict(float)
    records: list[dict] = []
    n = 0
    try:
        while not max_frames or n < max_frames:
            t = time.process_time()
            ok, bgr = cap.read()
            timers.s["decode"] += time.process_time() - t
            if not ok:
                break
            t = time.process_time()
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
            timers.s["jpeg"] += time.process_time() - t
            msg = FrameMsg(
                FrameMeta(
                    camera=camera,
                    run="bench",
                    seq=n,
                    ts=n / fps,
                    capture_time=time.time(),
                    width=bgr.shape[1],
                    height=bgr.shape[0],
                ),
                jpeg=buf.tobytes(),
            )
            for kind in ("detect", "track", "embed", "match"):
                msg = _hop(bus, timers, msg)
                before = dict(timers.s)
                t = time.process_time()
                outputs = handlers[kind].handle(msg)
                if kind == "match":
                    handlers[kind].committed(msg)
                spent = time.process_time() - t
                inner = sum(timers.s[k] - before.get(k, 0.0) for k in timers.s if k != "bus")
                totals[kind] += spent - inner
                if kind == "match":
                    t_bus = time.process_time()
                    for _stream, record in outputs:  # the results records cross the bus too
                        bus.publish("fs:bench:results", codec.encode(record), maxlen=1000)
                        records.append(record)
                    timers.s["bus"] += time.process_time() - t_bus
                if kind != "match":
                    msg = outputs[0][1]
            n += 1
        timers.s["bus"] += sum(procstat.cpu_seconds(p) for p in redis_pids) - redis_cpu0
    finally:
        cap.release()
        for (mod, name), fn in patched.items():
            setattr(mod, name, fn)
        services.redis.delete(HOP_STREAM, "fs:bench:results")
    per_frame = {k: v / max(n, 1) * 1e3 for k, v in timers.s.items()}
    per_frame["detect_other"] = totals["detect"] / max(n, 1) * 1e3
    for kind in ("track", "match"):
        per_frame[kind] = totals[kind] / max(n, 1) * 1e3
    per_frame["embed_other"] = totals["embed"] / max(n, 1) * 1e3
    total = sum(per_frame.values())
    out = {
        "clip": clip.name,
        "frames": n,
        "ms_per_frame": {k: round(v, 2) for k, v in sorted(per_frame.items())},
        "total_ms_per_frame": round(total, 2),
        "fps_one_core": round(1e3 / max(total, 1e-9), 1),
        "settings": {
            k: attrgetter(k)(settings)
            for k in (
                "detect.every_n",
                "detect.min_face_px",
                "detect.max_side_px",
                "embed.every_n",
                "jpeg_quality",
            )
        },
    }
    if clip.name.startswith("hamilton"):
        out.update(precision_recall(records))
    return out


def _hop(bus, timers: Timers, msg: FrameMsg) -> FrameMsg:
    t = time.process_time()
    bus.publish(HOP_STREAM, msg.to_bytes(), maxlen=1000)
    entry = bus.read([HOP_STREAM], HOP_GROUP, "bench", 1, 1000)[0]
    out = FrameMsg.from_bytes(entry.payload)
    bus.ack(HOP_STREAM, HOP_GROUP, [entry.id])
    timers.s["bus"] += time.process_time() - t
    return out
