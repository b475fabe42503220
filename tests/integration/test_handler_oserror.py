"""A handler's own OSError is the message's failure, not a lost Redis (real runtime, real Redis).

Only redis-py's connection errors mean "Redis unreachable"; a handler that cannot read a file
must see its entry retried and dead-lettered after ``max_deliveries``, like any other error,
instead of looping forever on reconnects.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import redis

from config.sections import BusSettings
from tracker.faces import Faces
from workers import codec, keys
from workers.backoff import REDIS_DOWN
from workers.bus import FIELD, RedisStreamBus
from workers.handler import Handler
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker

IN = "test:oserror:in"
GROUP = "g"


class ReadsAFile(Handler):
    """Reads a file per frame, as a handler loading a model or a photo would; it is missing."""

    kind = "reader"
    group = GROUP

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls = 0

    def input_streams(self) -> list[str]:
        return [IN]

    def handle(self, msg: FrameMsg) -> list:
        self.calls += 1
        self.path.read_bytes()  # FileNotFoundError, an OSError
        return []


def frame(seq: int) -> FrameMsg:
    meta = FrameMeta(
        camera="cam", run="r1", seq=seq, ts=seq / 10, capture_time=0.0, width=640, height=480
    )
    faces = Faces(np.array([[10, 10, 60, 70]], np.float32), np.array([0.99], np.float32))
    return FrameMsg(meta, faces=faces)


def test_bare_oserror_is_not_counted_as_redis_down() -> None:
    assert not any(issubclass(FileNotFoundError, kind) for kind in REDIS_DOWN)
    assert not any(issubclass(PermissionError, kind) for kind in REDIS_DOWN)
    assert all(issubclass(kind, redis.RedisError) for kind in REDIS_DOWN)
    assert issubclass(redis.ConnectionError, REDIS_DOWN) and issubclass(
        redis.TimeoutError, REDIS_DOWN
    )


def test_handler_oserror_is_retried_then_dead_lettered_by_the_running_worker(
    redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = ReadsAFile(tmp_path / "missing.bin")
    settings = BusSettings(block_ms=20, claim_idle_ms=100, max_deliveries=2)
    worker = Worker(
        RedisStreamBus(redis_client), handler, settings, client=redis_client, consumer="w1"
    )
    eid = RedisStreamBus(redis_client).publish(IN, frame(7).to_bytes())
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not redis_client.xlen(keys.DEAD):
            time.sleep(0.05)
    finally:
        worker.stopping = True
        thread.join(timeout=10)
    assert not thread.is_alive()
    dead = [codec.decode(fields[FIELD]) for _, fields in redis_client.xrange(keys.DEAD)]
    assert [d["id"] for d in dead] == [eid], f"expected the entry dead-lettered, got {dead}"
    assert "delivered more than 2 times" in dead[0]["error"]
    assert redis_client.xpending(IN, GROUP)["pending"] == 0
    assert handler.calls == 2
    assert worker.counters.errors == 2 and worker.counters.dead_letters == 1
    assert worker.counters.reconnects == 0, "a handler's OSError was taken for a lost Redis"
