"""Worker runtime on a REAL Redis (the session's embedded Valkey/Redis) through RedisStreamBus.

consume -> handle -> publish -> ack, dead letters, XAUTOCLAIM reclaim of idle pending entries,
entries trimmed while pending, health keys, and SIGTERM of a real worker process.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import redis

from config.errors import MessageError
from config.sections import BusSettings
from facestream.stack import Endpoints
from tracker.faces import Faces
from workers import codec, keys
from workers.bus import FIELD, MemoryBus, RedisStreamBus
from workers.handler import Handler
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker

IN = "test:in"
OUT = "test:out"
GROUP = "g"
IDLE_MS = 100


class Echo(Handler):
    """Echoes each frame to OUT with its shots' model "echoed", or raises ``fail`` when set."""

    kind = "echo"
    group = GROUP

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail = fail
        self.calls: list[int] = []

    def input_streams(self) -> list[str]:
        return [IN]

    def handle(self, msg: FrameMsg) -> list:
        self.calls.append(msg.seq)
        if self.fail is not None:
            raise self.fail
        return [(OUT, msg.embedded((), None, "echoed"))]


def frame(seq: int) -> FrameMsg:
    return FrameMsg(
        FrameMeta(
            camera="cam", run="r1", seq=seq, ts=seq / 10, capture_time=0.0, width=640, height=480
        ),
        faces=Faces(np.array([[10, 10, 60, 70]], np.float32), np.array([0.99], np.float32)),
    )


@pytest.fixture
def bus(redis_client: redis.Redis) -> RedisStreamBus:
    return RedisStreamBus(redis_client)


def make_worker(
    bus: RedisStreamBus, client: redis.Redis, handler: Echo, tmp_path: Path, **overrides
) -> Worker:
    s = BusSettings(block_ms=20, claim_idle_ms=IDLE_MS, **overrides)
    return Worker(bus, handler, s, client=client, consumer="w1")


def pending(client: redis.Redis) -> int:
    return client.xpending(IN, GROUP)["pending"]


def out_msgs(client: redis.Redis, stream: str = OUT) -> list[FrameMsg]:
    return [FrameMsg.from_bytes(fields[FIELD]) for _, fields in client.xrange(stream)]


def dead_letters(client: redis.Redis) -> list[dict]:
    return [codec.decode(fields[FIELD]) for _, fields in client.xrange(keys.DEAD)]


def steps_until(
    worker: Worker, done, tries: int = 30, pause_s: float = IDLE_MS / 1000 * 1.5
) -> None:
    """Step the worker, pausing past the claim idle time in between, until ``done()``."""
    for _ in range(tries):
        worker.step()
        if done():
            return
        time.sleep(pause_s)


# --- the happy path ----------------------------------------------------------------------------


def test_valid_message_is_handled_published_and_acked(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo()
    worker = make_worker(bus, redis_client, handler, tmp_path)
    bus.publish(IN, frame(3).to_bytes())  # before the group exists: the group starts at id 0
    steps_until(worker, lambda: handler.calls)
    assert handler.calls == [3]
    (out,) = out_msgs(redis_client)
    assert out.seq == 3 and out.shots.model == "echoed" and len(out.faces) == 1
    assert pending(redis_client) == 0
    assert worker.counters.processed == 1 and worker.counters.dead_letters == 0
    assert redis_client.xlen(keys.DEAD) == 0


def test_undecodable_entry_is_dead_lettered_and_the_next_one_still_processed(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo()
    worker = make_worker(bus, redis_client, handler, tmp_path)
    bus.ensure_group(IN, GROUP)
    bad_id = redis_client.xadd(IN, {FIELD: b"garbage"}).decode()
    bus.publish(IN, frame(1).to_bytes())
    steps_until(worker, lambda: handler.calls)
    (dead,) = dead_letters(redis_client)
    assert dead["stream"] == IN and dead["id"] == bad_id and dead["group"] == GROUP
    assert dead["payload"] == b"garbage" and dead["consumer"] == "w1"
    assert "msgpack" in dead["error"]
    assert handler.calls == [1]
    assert [m.seq for m in out_msgs(redis_client)] == [1]
    assert pending(redis_client) == 0
    assert worker.counters.dead_letters == 1 and worker.counters.processed == 1


def test_handler_message_error_dead_letters_at_once(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo(fail=MessageError("message field 'faces': expected 1 face, got 2"))
    worker = make_worker(bus, redis_client, handler, tmp_path)
    eid = bus.publish(IN, frame(0).to_bytes())
    steps_until(worker, lambda: handler.calls)
    assert handler.calls == [0]
    (dead,) = dead_letters(redis_client)
    assert dead["id"] == eid and dead["error"] == "message field 'faces': expected 1 face, got 2"
    assert FrameMsg.from_bytes(dead["payload"]).seq == 0  # the original entry, kept for inspection
    assert pending(redis_client) == 0 and redis_client.xlen(OUT) == 0
    assert worker.counters.dead_letters == 1 and worker.counters.errors == 0


# --- retries, reclaim, dead consumers ---------------------------------------------------------


def test_failing_handler_is_retried_then_dead_lettered(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo(fail=RuntimeError("model crashed"))
    worker = make_worker(bus, redis_client, handler, tmp_path, max_deliveries=2)
    eid = bus.publish(IN, frame(5).to_bytes())
    worker.step()
    assert handler.calls == [5]
    assert pending(redis_client) == 1  # left pending on purpose
    assert worker.counters.errors == 1 and redis_client.xlen(keys.DEAD) == 0
    steps_until(worker, lambda: redis_client.xlen(keys.DEAD) > 0)
    assert handler.calls == [
        5,
        5,
    ]  # delivered twice, handled twice; the third delivery dead-letters
    (dead,) = dead_letters(redis_client)
    assert dead["id"] == eid and "delivered more than 2 times" in dead["error"]
    assert pending(redis_client) == 0 and redis_client.xlen(OUT) == 0
    assert worker.counters.errors == 2 and worker.counters.dead_letters == 1
    for _ in range(3):  # and it stays dead
        time.sleep(IDLE_MS / 1000 * 1.5)
        worker.step()
    assert handler.calls == [5, 5] and redis_client.xlen(keys.DEAD) == 1


def test_pending_entries_of_a_dead_consumer_are_reclaimed_and_processed_once(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo()
    worker = make_worker(bus, redis_client, handler, tmp_path)
    bus.ensure_group(IN, GROUP)
    ids = [bus.publish(IN, frame(s).to_bytes()) for s in range(3)]
    got = redis_client.xreadgroup(
        GROUP, "ghost", {IN: ">"}, count=10
    )  # read, then the ghost "dies"
    assert len(got[0][1]) == 3
    steps_until(worker, lambda: len(handler.calls) >= 3)
    for _ in range(3):  # later polls and reclaims must not process them again
        time.sleep(IDLE_MS / 1000 * 1.5)
        worker.step()
    assert sorted(handler.calls) == [0, 1, 2]
    assert sorted(m.seq for m in out_msgs(redis_client)) == [0, 1, 2]
    assert pending(redis_client) == 0
    assert worker.counters.processed == 3 and worker.counters.dead_letters == 0
    assert redis_client.xlen(IN) == len(ids)


def test_entry_trimmed_while_pending_is_counted_not_crashed(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo()
    worker = make_worker(bus, redis_client, handler, tmp_path)
    bus.ensure_group(IN, GROUP)
    bus.publish(IN, frame(0).to_bytes())
    redis_client.xreadgroup(GROUP, "ghost", {IN: ">"}, count=10)
    assert redis_client.xtrim(IN, maxlen=0, approximate=False) == 1
    assert pending(redis_client) == 1  # trimming ignores consumer groups
    steps_until(worker, lambda: worker.counters.trimmed > 0)
    assert worker.counters.trimmed == 1
    assert handler.calls == [] and redis_client.xlen(OUT) == 0 and redis_client.xlen(keys.DEAD) == 0
    assert pending(redis_client) == 0
    # the worker goes on normally afterwards
    bus.publish(IN, frame(1).to_bytes())
    steps_until(worker, lambda: handler.calls)
    assert handler.calls == [1]


def test_bus_claim_idle_reports_trimmed_entries_with_no_payload(
    bus: RedisStreamBus, redis_client: redis.Redis
) -> None:
    bus.ensure_group(IN, GROUP)
    kept, gone = bus.publish(IN, b"kept"), bus.publish(IN, b"gone")
    redis_client.xreadgroup(GROUP, "ghost", {IN: ">"}, count=10)
    redis_client.xdel(IN, gone)
    time.sleep(IDLE_MS / 1000 * 1.5)
    entries = {e.id: e.payload for e in bus.claim_idle(IN, GROUP, "w1", IDLE_MS, 10)}
    assert entries == {kept: b"kept", gone: None}
    assert bus.deliveries(IN, GROUP, kept) == 2
    assert bus.deliveries(IN, GROUP, gone) == 0  # XAUTOCLAIM removed it from the PEL


def test_poison_payload_never_escapes_step(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    handler = Echo()
    worker = make_worker(bus, redis_client, handler, tmp_path)
    d = codec.decode(frame(0).to_bytes())
    d["shots"]["rows"] = [float("inf")]
    bus.publish(IN, codec.encode(d))
    steps_until(worker, lambda: redis_client.xlen(keys.DEAD) > 0, tries=3)
    assert redis_client.xlen(keys.DEAD) == 1 and pending(redis_client) == 0


# --- health and shutdown -----------------------------------------------------------------------


def test_health_key_and_stats_after_a_step(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    worker = make_worker(bus, redis_client, Echo(), tmp_path)
    bus.publish(IN, frame(0).to_bytes())
    worker.step()
    key = keys.health("echo", "w1")
    assert redis_client.exists(key)
    assert 0 < redis_client.ttl(key) <= worker.settings.health_ttl_s
    info = json.loads(redis_client.get(key))
    assert info["kind"] == "echo" and info["pid"] == os.getpid()
    assert key.encode() in list(redis_client.scan_iter(match=keys.health_pattern("echo")))
    stats = redis_client.hgetall(keys.stats("echo:w1"))
    assert set(stats) >= {b"processed", b"dead_letters", b"trimmed", b"errors"}


def test_run_returns_when_stopping_and_deletes_its_health_key(
    bus: RedisStreamBus, redis_client: redis.Redis, tmp_path: Path
) -> None:
    class StopAfterOne(Echo):
        def handle(self, msg: FrameMsg) -> list:
            worker.stopping = True  # what the SIGTERM handler does
            return super().handle(msg)

    handler = StopAfterOne()
    worker = make_worker(bus, redis_client, handler, tmp_path)
    bus.publish(IN, frame(0).to_bytes())
    worker.run()
    assert handler.calls == [0] and redis_client.xlen(OUT) == 1 and pending(redis_client) == 0
    assert not redis_client.exists(keys.health("echo", "w1"))
    assert redis_client.hget(keys.stats("echo:w1"), "processed") == b"1"


def test_sigterm_stops_a_real_track_worker(
    stack: Endpoints, redis_client: redis.Redis, tmp_path: Path
) -> None:
    # the track worker loads no model and never connects to Milvus (facestream/services.py): a dead URI is fine
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facestream",
                "--data-dir",
                str(tmp_path / "data"),
                "--redis-url",
                stack.redis_url,
                "--milvus-uri",
                "http://127.0.0.1:1",
                "worker",
                "track",
            ],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    key = keys.health("track", f"{socket.gethostname()}-{proc.pid}")

    def log_tail() -> str:
        return log_path.read_text(errors="replace")[-3000:]

    try:
        for _ in range(600):  # up to 60 s for the interpreter, imports and the first heartbeat
            if redis_client.exists(key) or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert proc.poll() is None, f"worker exited early with {proc.returncode}:\n{log_tail()}"
        assert redis_client.exists(key), f"no health key {key}:\n{log_tail()}"
        # it really works: a detected frame comes out tracked
        RedisStreamBus(redis_client).publish(keys.DETECTED, frame(0).to_bytes())
        for _ in range(300):
            if redis_client.xlen(keys.TRACKED):
                break
            time.sleep(0.1)
        (tracked,) = out_msgs(redis_client, keys.TRACKED)
        assert tracked.seq == 0 and len(tracked.faces.track_ids) == 1
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"worker still running 15 s after SIGTERM:\n{log_tail()}")
        assert code == 0, log_tail()
        assert not redis_client.exists(key)
        assert redis_client.xpending(keys.DETECTED, keys.GROUP_TRACK)["pending"] == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_both_buses_publish_many_in_order(bus: RedisStreamBus, redis_client: redis.Redis) -> None:
    items = [(OUT, b"a", None), ("test:other", b"b", 10), (OUT, b"c", None)]
    memory = MemoryBus()
    for b in (bus, memory):
        assert len(b.publish_many(items)) == 3
    assert [f[FIELD] for _, f in redis_client.xrange(OUT)] == [b"a", b"c"]
    assert [f[FIELD] for _, f in redis_client.xrange("test:other")] == [b"b"]
    assert [p for _, p in memory.streams[OUT]] == [b"a", b"c"] and len(
        memory.streams["test:other"]
    ) == 1
