"""Worker faults with real processes and a real Redis: warm shutdown, a second signal, trimmed pending entries."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from tests.support.rtsp import wait_for
from tests.support.slow_worker import GROUP, IN, OUT
from workers.bus import RedisStreamBus
from workers.handler import Handler
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker


def _frame(seq: int = 0) -> bytes:
    return FrameMsg(
        FrameMeta(camera="c", run="r", seq=seq, ts=0.0, capture_time=time.time(), width=4, height=4)
    ).to_bytes()


def _pending(client, stream: str = IN, group: str = GROUP) -> int:
    return int(client.xpending(stream, group)["pending"])


def _slow_worker(stack, sleep_s: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.slow_worker", stack.redis_url, str(sleep_s)],
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigterm_finishes_the_batch_acks_and_exits(stack, redis_client) -> None:
    redis_client.xgroup_create(IN, GROUP, id="0", mkstream=True)
    proc = _slow_worker(stack, 3.0)
    redis_client.xadd(IN, {"m": _frame()})
    assert wait_for(lambda: _pending(redis_client) == 1, 30), "the worker never took the entry"
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    err = proc.stderr.read()
    assert code == 0, err
    assert redis_client.xlen(OUT) == 1 and _pending(redis_client) == 0  # finished, published, acked
    assert "finishing the current batch" in err


def test_second_signal_exits_at_once_leaving_the_entry_pending(stack, redis_client) -> None:
    redis_client.xgroup_create(IN, GROUP, id="0", mkstream=True)
    proc = _slow_worker(stack, 30.0)
    redis_client.xadd(IN, {"m": _frame()})
    assert wait_for(lambda: _pending(redis_client) == 1, 30)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(10)  # well before the 30 s handler would finish
    assert code == 128 + signal.SIGTERM
    assert (
        redis_client.xlen(OUT) == 0 and _pending(redis_client) == 1
    )  # left for another worker to reclaim


class _Echo(Handler):
    kind = "echo"
    group = "echo"

    def input_streams(self) -> list[str]:
        return ["fs:test:echo"]

    def handle(self, msg):
        return []


def test_trimmed_pending_entries_are_counted_and_acked(settings, redis_client) -> None:
    bus = RedisStreamBus(redis_client)
    bus.ensure_group("fs:test:echo", "echo")
    for i in range(5):
        bus.publish("fs:test:echo", _frame(i))
    assert (
        len(bus.read(["fs:test:echo"], "echo", "dead-consumer", 10, 10)) == 5
    )  # then that consumer dies
    redis_client.xtrim(
        "fs:test:echo", maxlen=0
    )  # MAXLEN ignores consumer groups: the pending entries are gone
    worker = Worker(
        bus, _Echo(), settings.bus.model_copy(update={"claim_idle_ms": 100}), client=redis_client
    )
    time.sleep(0.2)
    worker.step()
    assert worker.counters.trimmed == 5 and worker.counters.processed == 0
    assert _pending(redis_client, "fs:test:echo", "echo") == 0
