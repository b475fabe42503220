"""A stage that needs frames in order takes over a dead process's pending entries at start,
before it reads new ones (real Redis)."""

from __future__ import annotations

import time

from workers.bus import RedisStreamBus
from workers.handler import Handler
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker

STREAM = "fs:test:ordered"


def _frame(seq: int) -> bytes:
    meta = FrameMeta(
        camera="c", run="r", seq=seq, ts=0.0, capture_time=time.time(), width=4, height=4
    )
    return FrameMsg(meta).to_bytes()


class _Ordered(Handler):
    kind = "ordered"
    group = "ordered"
    takes_over_pending = True

    def __init__(self) -> None:
        self.seen: list[int] = []

    def input_streams(self) -> list[str]:
        return [STREAM]

    def handle(self, msg):
        self.seen.append(msg.seq)
        return []


def test_a_dead_consumers_entries_come_first_then_new_ones(settings, redis_client) -> None:
    bus = RedisStreamBus(redis_client)
    bus.ensure_group(STREAM, "ordered")
    for seq in range(3):
        bus.publish(STREAM, _frame(seq))
    assert len(bus.read([STREAM], "ordered", "dead", 3, 10)) == 3  # then that process is killed
    for seq in range(3, 6):
        bus.publish(STREAM, _frame(seq))
    handler = _Ordered()
    # claim_idle_ms long: without the take-over, 0..2 would wait a minute, behind 3..5
    worker = Worker(
        bus, handler, settings.bus.model_copy(update={"claim_idle_ms": 60_000}), client=redis_client
    )
    for _ in range(4):
        worker.step()
    assert handler.seen == [0, 1, 2, 3, 4, 5]
    assert int(redis_client.xpending(STREAM, "ordered")["pending"]) == 0
