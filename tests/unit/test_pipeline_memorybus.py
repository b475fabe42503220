"""All four stages wired through the in-memory bus and the real runtime, with fake models.

The Redis tests are the evidence that the system works; this one checks that the
stages compose: one message schema end to end, every frame accounted for, the
right name on the right track, and that MemoryBus keeps consumer-group semantics.
"""

from __future__ import annotations

import cv2
import numpy as np

from config.settings import Settings
from tracker.faces import Faces
from workers import codec, keys
from workers.bus import MemoryBus
from workers.detect import DetectHandler
from workers.embed import EmbedHandler
from workers.match import MatchHandler
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker
from workers.track import TrackHandler


class MovingFaceDetector:
    """One face that walks right 4 px per frame: finds it wherever the frame's blue square is."""

    def detect(self, rgb: np.ndarray) -> Faces:
        ys, xs = np.nonzero(rgb[:, :, 2] > 200)
        if len(xs) == 0:
            return Faces.empty()
        return Faces([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], [0.99])


class ConstantEmbedder:
    name, dim = "dlib", 128

    def embed(self, chips, boxes) -> np.ndarray:
        vectors = np.zeros((len(chips), self.dim), np.float32)
        vectors[:, 0] = 1.0
        return vectors


class OnePersonIndex:
    def search(self, vectors, top_k):
        return [{"p-ada": float(v[0])} for v in vectors]


class People:
    def names(self, ids):
        return {i: "ada" for i in ids}

    def faces_per_model(self):
        return {"dlib": 1}


def frame(seq: int, n_frames: int) -> FrameMsg:
    img = np.zeros((120, 160, 3), np.uint8)
    if seq < n_frames - 3:  # the face leaves before the end
        x = 10 + 4 * seq
        img[40:80, x : x + 40] = (255, 0, 0)  # BGR blue square = the "face"
    ok, jpeg = cv2.imencode(".png", img)  # lossless, so the square's edges stay exact
    return FrameMsg(
        FrameMeta(
            camera="cam", run="r1", seq=seq, ts=seq / 10, capture_time=0.0, width=160, height=120
        ),
        jpeg=jpeg.tobytes(),
    )


def test_four_stages_through_the_memory_bus(fake_redis) -> None:
    bus = MemoryBus()
    settings = Settings(
        embed={"every_n": 5},
        bus={"block_ms": 10, "claim_idle_ms": 60_000},
        track={"reorder_wait_file_s": 61.0},
    )
    handlers = [
        DetectHandler(MovingFaceDetector(), cameras=lambda: ["cam"]),
        TrackHandler(settings.track, settings.embed, settings.scene_cut_threshold),
        EmbedHandler(ConstantEmbedder()),
        MatchHandler(
            fake_redis, People(), lambda model: OnePersonIndex(), settings, lambda model: 0.9
        ),
    ]
    workers = [Worker(bus, h, settings.bus, consumer=f"{h.kind}-1") for h in handlers]
    n = 20
    for seq in range(n):
        bus.publish(keys.frames("cam"), frame(seq, n).to_bytes())
    eos = FrameMsg.end_of_stream(
        FrameMeta(camera="cam", run="r1", seq=n, ts=n / 10, capture_time=0.0, width=160, height=120)
    )
    bus.publish(keys.frames("cam"), eos.to_bytes())
    for _ in range(10):
        for w in workers:
            w.step()

    results = [codec.decode(p) for _, p in bus.streams[keys.RESULTS]]
    rows = [r for r in results if "event" not in r]
    events = [(r["event"], r["track_id"]) for r in results if "event" in r]
    embedded = [FrameMsg.from_bytes(p) for _, p in bus.streams[keys.EMBEDDED]]
    shots = [m.seq for m in embedded if m.shots.rows]
    # best shots only, within the per-track budget: a handful of embeddings, not one per frame
    assert 1 <= len(shots) <= settings.embed.budget_per_track
    assert len(rows) == n - 3 and [r["frame"] for r in rows] == list(range(n - 3))
    assert len({r["track_id"] for r in rows}) == 1
    # named from its first embedded face on, unnamed before (there was no evidence yet)
    assert [r["name"] for r in rows] == [None] * shots[0] + ["ada"] * (n - 3 - shots[0])
    track = rows[0]["track_id"]
    assert events == [("start", track), ("identified", track), ("end", track)]
    # every frame accounted for, the end of stream seen, nothing left pending anywhere
    progress = fake_redis.hashes[keys.progress("cam", "r1")]
    assert progress["done"] == n and progress["finished"] == 1
    assert all(not g.pending for g in bus.groups.values())
    assert bus.streams[keys.DEAD] == []


def test_memory_bus_keeps_unacked_entries_pending_for_reclaim() -> None:
    bus = MemoryBus()
    bus.ensure_group("s", "g")
    first = bus.publish("s", b"a")
    bus.publish("s", b"b")
    got = bus.read(["s"], "g", "c1", count=1, block_ms=0)
    assert [(e.id, e.payload) for e in got] == [(first, b"a")]
    assert [e.payload for e in bus.read(["s"], "g", "c2", count=10, block_ms=0)] == [b"b"]
    reclaimed = bus.claim_idle("s", "g", "c3", min_idle_ms=0, count=10)
    assert sorted(e.payload for e in reclaimed) == [b"a", b"b"]
    assert bus.deliveries("s", "g", first) == 2
    bus.ack("s", "g", [e.id for e in reclaimed])
    assert bus.claim_idle("s", "g", "c3", min_idle_ms=0, count=10) == []
