"""What keeping the tracker's state in Redis costs per frame.

    PYTHONPATH=. python -m bench.track_state [--tracks 1,7,30] [--frames 300]

A private Valkey/Redis (AOF on, as `run` starts it); a camera with N faces moving across the
frame (N live tracks with Kalman filters, shot budgets, carried boxes); per frame, the tracker
stage's real work. Times the commit that keeps the state (the frame for ``fs:tracked`` and the
camera's state in one script, what the tracker does) against the publish without it (one XADD,
what it did before), and prints the state's size. Redis round trips dominate on one machine.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import redis

from bench import state_cost
from config.settings import Settings
from tracker.faces import Faces
from workers import keys
from workers.bus import RedisStreamBus
from workers.messages import FrameMeta, FrameMsg
from workers.track import TrackHandler
from workers.track_state import TrackState


def _frame(camera: str, seq: int, tracks: int) -> FrameMsg:
    xyxy = np.array(
        [
            [
                20 + 60 * (t % 25) + seq,
                40 + 80 * (t // 25),
                60 + 60 * (t % 25) + seq,
                90 + 80 * (t // 25),
            ]
            for t in range(tracks)
        ],
        np.float32,
    )
    lm = np.repeat(((xyxy[:, :2] + xyxy[:, 2:]) / 2)[:, None, :], 5, axis=1)
    faces = Faces(xyxy, np.full(tracks, 0.99, np.float32), lm, sharpness=np.full(tracks, 50.0))
    meta = FrameMeta(camera, "bench", seq, seq / 25, 0.0, 1920, 1080)
    return FrameMsg(meta, faces=faces, scene=np.full(128, 1 / 128, np.float32))


def measure(client: redis.Redis, tracks: int, frames: int) -> dict:
    maxlen = Settings().bus.stream_maxlen
    camera = f"cam{tracks}"
    handler = TrackHandler(state=TrackState(client, maxlen))
    bus = RedisStreamBus(client)
    with_state, without = [], []
    for seq in range(frames):
        msg = _frame(camera, seq, tracks)
        outputs = handler.handle(msg)
        started = time.perf_counter()
        assert handler.commit(msg, outputs)
        with_state.append(time.perf_counter() - started)
        started = time.perf_counter()
        for stream, out in outputs:
            bus.publish(stream, out.to_bytes(), maxlen=maxlen)
        without.append(time.perf_counter() - started)
    size = len(client.hget(keys.track_state(camera), "state") or b"")
    ms = statistics.median(with_state) * 1e3, statistics.median(without) * 1e3
    return {"tracks": tracks, "state_bytes": size, "with_state_ms": ms[0], "without_ms": ms[1]}


def main() -> None:
    state_cost.main(__doc__ or "", measure)


if __name__ == "__main__":
    main()
