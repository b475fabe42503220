"""What keeping the matcher's state in Redis costs per frame.

    PYTHONPATH=. python -m bench.match_state [--tracks 1,7,30] [--frames 300]

A private Valkey/Redis (AOF on, as `run` starts it); a camera with N live tracks (dlib, 128-d
running embeddings and votes, as on the crowd clip); per frame, one face record per track. Times
the commit that keeps the state (records + done bit + state in one script, what the matcher does)
against the commit without it (records in one pipeline, then the done-bit script, what it did
before), and prints the state's size. Redis round trips dominate on one machine.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import redis

from bench import state_cost
from config.settings import Settings
from tracker.identity import IdentityVote
from tracker.track_book import TrackBook
from workers import codec, keys
from workers.bus import RedisStreamBus
from workers.match_state import CameraState, MatchState
from workers.messages import FrameMeta, FrameMsg
from workers.progress import RunProgress


def _book(tracks: int, rng: np.random.Generator) -> TrackBook:
    book = TrackBook(lambda: IdentityVote(0.92, 0.02))
    for t in range(tracks):
        book.seen(f"cam-abcdef-{t}", 0, 0.0)
        for _ in range(3):
            v = rng.normal(size=128)
            book.embedded(
                f"cam-abcdef-{t}", v, {f"p{k}": float(rng.uniform(0.3, 0.8)) for k in range(5)}
            )
    return book


def _record(seq: int, t: int) -> dict:
    return {
        "camera": "cam",
        "frame": seq,
        "ts": seq / 25,
        "track_id": f"cam-abcdef-{t}",
        "name": None,
        "person_id": None,
        "score": 0.5,
        "bbox": [1.0, 2.0, 30.0, 40.0],
        "capture_time": time.time(),
        "label": None,
    }


def measure(client: redis.Redis, tracks: int, frames: int) -> dict:
    rng = np.random.default_rng(tracks)
    maxlen = Settings().bus.results_maxlen
    store, bus = MatchState(client, maxlen), RedisStreamBus(client)
    st = CameraState(f"with-{tracks}", _book(tracks, rng))
    with_state, without = [], []
    for seq in range(frames):
        meta = FrameMeta(
            camera=f"cam{tracks}",
            run=st.run,
            seq=seq,
            ts=seq / 25,
            capture_time=0.0,
            width=1920,
            height=1080,
        )
        records = [_record(seq, t) for t in range(tracks)]
        started = time.perf_counter()
        assert store.commit(FrameMsg(meta), st, records) > 0
        with_state.append(time.perf_counter() - started)
        plain = FrameMsg(FrameMeta(**{**meta.__dict__, "run": f"without-{tracks}"}))
        started = time.perf_counter()
        bus.publish_many([(keys.RESULTS, codec.encode(r), maxlen) for r in records])
        RunProgress(client, meta.camera, plain.run).commit(seq)
        without.append(time.perf_counter() - started)
    size = len(client.hget(keys.match_state(f"cam{tracks}"), "state") or b"")
    ms = statistics.median(with_state) * 1e3, statistics.median(without) * 1e3
    return {"tracks": tracks, "state_bytes": size, "with_state_ms": ms[0], "without_ms": ms[1]}


def main() -> None:
    state_cost.main(__doc__ or "", measure)


if __name__ == "__main__":
    main()
