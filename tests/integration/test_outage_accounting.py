"""Outages and lost frames on real servers: a Milvus that cannot even be connected to, frames
dead-lettered for a real reason, and a milvus-lite started by a process that ignores SIGINT."""

from __future__ import annotations

import io
import signal
import socket
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from config.errors import MessageError
from facestream import server_probes, servers, status
from facestream.runner import ProblemWatch
from facestream.services import Services
from facestream.stack import Endpoints
from tests.support.rtsp import wait_for
from tracker.faces import Faces
from workers import health
from workers.bus import RedisStreamBus
from workers.gallery import People, VectorIndex
from workers.handler import Handler
from workers.messages import FrameMeta, FrameMsg, Shots
from workers.models.registry import spec
from workers.progress import RunProgress
from workers.runtime import Worker


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _msg(seq: int, vector: np.ndarray) -> FrameMsg:
    """A live camera's frame (it carries a max age): during an outage it goes on unnamed, where a
    file's frame would wait for Milvus (tests/integration/test_milvus_outage.py)."""
    return FrameMsg(
        FrameMeta(
            camera="door",
            run="r1",
            seq=seq,
            ts=seq / 25,
            capture_time=time.time(),
            width=640,
            height=360,
            max_age_s=60.0,
        ),
        faces=Faces(
            np.array([[10, 10, 60, 60]], np.float32),
            np.array([0.99], np.float32),
            track_ids=("t1",),
        ),
        shots=Shots((0,), embeddings=vector[None, :], model="dlib"),
    )


def test_a_milvus_never_reached_is_an_outage_and_names_come_once_it_is_up(
    settings, stack: Endpoints, redis_client, tmp_path: Path
) -> None:
    port = _free_port()  # nothing listens here yet: the matcher's first connect fails
    services = Services(settings, Endpoints(stack.redis_url, f"http://127.0.0.1:{port}"))
    handler = services.handler("match")
    worker = Worker(RedisStreamBus(redis_client), handler, settings.bus, client=redis_client)
    vector = np.random.default_rng(1).normal(size=128).astype(np.float32)
    vector /= np.linalg.norm(vector)

    def names(seq: int) -> list:
        msg = _msg(seq, vector)
        out = handler.handle(msg)  # raised StackError before: redelivered, then dead-lettered
        handler.committed(msg)
        return [r["name"] for _, r in out if "event" not in r]

    assert [names(seq) for seq in range(3)] == [[None]] * 3
    assert RunProgress(redis_client, "door", "r1").read().done == 3  # the frames went through
    worker._heartbeat()
    problem = status.gather(redis_client)["problems"]
    assert len(problem) == 1 and "Milvus unreachable" in problem[0], problem
    console = io.StringIO()
    watch = ProblemWatch(every_s=0.0)
    watch.poll(redis_client, Console(file=console, width=200))
    watch.poll(redis_client, Console(file=console, width=200))
    assert console.getvalue().count("Milvus unreachable") == 1  # said once, not every poll

    milvus = servers.start_milvus(tmp_path / "milvus", port=port)
    try:
        client = server_probes.open_milvus_client(milvus.url)
        people = People(redis_client)
        VectorIndex(client, spec("dlib").collection(), 128).add(
            people.get_or_create("ada"), vector[None, :]
        )
        seq = iter(range(3, 10_000))
        assert wait_for(lambda: names(next(seq)) == ["ada"], 120), "never named once Milvus was up"
        worker._heartbeat()
        assert status.gather(redis_client)["problems"] == []
        watch.poll(redis_client, Console(file=console, width=200))
        assert "resolved: Milvus unreachable" in console.getvalue()
    finally:
        servers.stop(milvus)
        health.clear(redis_client, "match", worker.consumer)


class _RejectsOdd(Handler):
    """Frames with an odd seq, and the end of stream, are bad input (dead letters); the others are
    done as the matcher does it."""

    kind = "match"
    group = "match"

    def __init__(self, client) -> None:
        self.redis = client

    def input_streams(self) -> list[str]:
        return ["fs:test:accounting"]

    def handle(self, msg: FrameMsg):
        if msg.is_eos or msg.seq % 2:
            raise MessageError(f"message field 'seq': expected an even seq, got {msg.seq}")
        return []

    def committed(self, msg: FrameMsg) -> None:
        RunProgress(self.redis, msg.camera, msg.run).commit(msg.seq)


def test_dead_lettered_frames_are_counted_as_dropped_and_the_run_ends(
    settings, redis_client
) -> None:
    bus = RedisStreamBus(redis_client)
    bus.ensure_group("fs:test:accounting", "match")
    ledger = RunProgress(redis_client, "gate", "r9")
    meta = {
        "camera": "gate",
        "run": "r9",
        "ts": 0.0,
        "capture_time": time.time(),
        "width": 4,
        "height": 4,
    }
    for seq in range(6):
        bus.publish("fs:test:accounting", FrameMsg(FrameMeta(seq=seq, **meta)).to_bytes())
        ledger.count_published()
    bus.publish("fs:test:accounting", FrameMsg.end_of_stream(FrameMeta(seq=6, **meta)).to_bytes())
    ledger.set_total(6)
    worker = Worker(bus, _RejectsOdd(redis_client), settings.bus, client=redis_client)
    assert wait_for(lambda: worker.step() == 0 and ledger.read().complete, 30), ledger.read()
    counts = ledger.read()
    assert counts.done == 6 and counts.dropped == {"dead_letter:match": 3} and counts.missing == 0
    assert worker.counters.dead_letters == 4  # three frames and the end of stream


def test_a_milvus_lite_started_with_sigint_ignored_still_stops_on_sigint(tmp_path: Path) -> None:
    # what a facestream started as `cmd &` from a script does: the shell ignores SIGINT in it,
    # and its children inherit that
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        milvus = servers.start_milvus(tmp_path / "data")
    finally:
        signal.signal(signal.SIGINT, previous)
    servers.stop(milvus)
    assert milvus.proc is not None and milvus.proc.returncode != -signal.SIGKILL
    log = (tmp_path / "data" / "logs" / "milvus.log").read_text()
    assert "Shutting down" in log, log[-2000:]  # its own clean shutdown, not our SIGKILL
