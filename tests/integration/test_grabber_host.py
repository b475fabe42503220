"""Grabbers hosted the one way (`run`, `ingest`, `cameras serve`), and how those commands stop:
SIGTERM exactly as Ctrl-C, warm. Real grabbers on a real clip, a real Redis, the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from prometheus_client import REGISTRY

from config.errors import SourceError
from facestream import cameras
from ingest.host import GrabberHost
from tests.support.rtsp import wait_for
from workers import health, keys
from workers.bus import FIELD, RedisStreamBus
from workers.messages import FrameMsg


def _counted(camera: str) -> float:
    return REGISTRY.get_sample_value("facestream_ingest_frames_total", {"camera": camera}) or 0.0


def test_the_host_counts_what_it_publishes_beats_once_and_stops_its_grabbers(
    settings, redis_client, examples_dir: Path
) -> None:
    clip = str(examples_dir / "hamilton_360p.mp4")
    before = _counted("hosted")
    with GrabberHost(redis_client, RedisStreamBus(redis_client), settings) as host:
        hosted = host.start("hosted", clip)
        # no workers: the file grabber waits once max_in_flight_frames are published
        assert wait_for(lambda: hosted.grabber.progress.read().published >= 5, 60)
        live = health.alive(redis_client, "ingest")
        assert [(w["consumer"], w["cameras"]) for w in live] == [(host.consumer, ["hosted"])]
    assert not hosted.alive() and hosted.error is None
    assert (
        health.workers(redis_client, "ingest") == []
    )  # removed on the way out, not left to expire
    published = hosted.grabber.stats.published
    assert _counted("hosted") - before == published + 1  # every frame, and the end of stream
    last = FrameMsg.from_bytes(redis_client.xrevrange(keys.frames("hosted"), count=1)[0][1][FIELD])
    assert last.is_eos and last.seq == published


def test_a_grabber_that_fails_keeps_its_error_for_its_owner(
    settings, redis_client, tmp_path
) -> None:
    seen: list[BaseException] = []
    with GrabberHost(redis_client, RedisStreamBus(redis_client), settings) as host:
        hosted = host.start("broken", str(tmp_path / "missing.mp4"), on_error=seen.append)
        hosted.thread.join(30)
    assert isinstance(hosted.error, SourceError) and seen == [hosted.error]
    assert hosted.ended_at is not None


def _cli(stack, tmp_path: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(tmp_path),
            "--redis-url",
            stack.redis_url,
            "--milvus-uri",
            stack.milvus_uri,
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_sigterm_stops_ingest_warm_like_ctrl_c(
    stack, redis_client, tmp_path, examples_dir: Path
) -> None:
    proc = _cli(
        stack,
        tmp_path,
        "ingest",
        str(examples_dir / "hamilton_360p.mp4"),
        "--camera",
        "ing",
    )
    try:
        assert wait_for(
            lambda: [w["cameras"] for w in health.alive(redis_client, "ingest")] == [["ing"]], 60
        )
        assert wait_for(lambda: redis_client.xlen(keys.frames("ing")) >= 5, 60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "camera ing: stopping" in err and "frames published" in err and "Traceback" not in err
    assert health.workers(redis_client, "ingest") == []


def test_sigterm_stops_cameras_serve_and_its_grabbers(
    stack, redis_client, tmp_path, examples_dir: Path
) -> None:
    # sealed with the key under the data dir that `cameras serve` below opens it with
    cameras.add(redis_client, "served", str(examples_dir / "hamilton_360p.mp4"), tmp_path)
    proc = _cli(stack, tmp_path, "cameras", "serve")
    try:
        assert wait_for(
            lambda: [w["cameras"] for w in health.alive(redis_client, "ingest")] == [["served"]], 60
        )
        assert wait_for(lambda: redis_client.xlen(keys.frames("served")) >= 5, 60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "camera manager stopping" in err and "Traceback" not in err
    assert health.workers(redis_client, "ingest") == []
    frames = [FrameMsg.from_bytes(f[FIELD]) for _, f in redis_client.xrange(keys.frames("served"))]
    assert frames[-1].is_eos  # the grabber was stopped warm, not killed with its process


def test_sigterm_ends_watch_like_ctrl_c(stack, redis_client, tmp_path) -> None:
    proc = _cli(stack, tmp_path, "watch")
    try:
        assert wait_for(lambda: any("xread" in str(c) for c in redis_client.client_list()), 60)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
