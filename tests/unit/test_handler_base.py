"""The runtime calls every hook of the Handler base; a stage overrides only what it needs."""

from __future__ import annotations

import time

from config.sections import BusSettings
from workers.bus import MemoryBus
from workers.handler import Handler
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker

IN, OUT = "test:in", "test:out"


class Passing(Handler):
    """Only the two required methods: every hook is the base's no-op."""

    kind, group = "pass", "g"

    def input_streams(self) -> list[str]:
        return [IN]

    def handle(self, msg: FrameMsg) -> list:
        return [(OUT, msg)]


class Dropping(Passing):
    def stale(self, msg: FrameMsg) -> FrameMsg:
        return msg.drop("stale")


def live_frame(seq: int, age_s: float) -> FrameMsg:
    now = time.time()
    return FrameMsg(
        FrameMeta(
            camera="c",
            run="r",
            seq=seq,
            ts=now,
            capture_time=now - age_s,
            width=4,
            height=4,
            max_age_s=1.0,
        )
    )


def test_base_hooks_are_no_ops() -> None:
    h, msg = Passing(), live_frame(0, 0.0)
    assert h.warm_up() is None and h.prepare([b"x"]) is None and h.committed(msg) is None
    assert h.idle() == [] and h.stale(msg) is msg and h.health() == {}


def run_one(handler: Handler, msg: FrameMsg) -> tuple[Worker, FrameMsg]:
    bus = MemoryBus()
    worker = Worker(bus, handler, BusSettings(block_ms=10, claim_idle_ms=60_000))
    bus.publish(IN, msg.to_bytes())
    worker.step()
    ((_, payload),) = bus.streams[OUT]
    return worker, FrameMsg.from_bytes(payload)


def test_a_stale_frame_is_counted_only_where_the_stage_handles_it_otherwise() -> None:
    worker, out = run_one(Passing(), live_frame(0, 5.0))
    assert out.dropped is None and worker.counters.stale == 0 and worker.counters.processed == 1
    worker, out = run_one(Dropping(), live_frame(0, 5.0))
    assert out.dropped == "stale" and worker.counters.stale == 1
    worker, out = run_one(Dropping(), live_frame(1, 0.0))  # fresh: handled as is
    assert out.dropped is None and worker.counters.stale == 0
