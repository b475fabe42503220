"""What a user reads when something is off: control characters in a rejected name, a directory
given as a video, a truncated file, a dead camera (real CLI, real grabber, real Redis)."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from config.cameras import CameraPolicy
from facestream.console import esc
from ingest.events import StateReporter
from ingest.host import GrabberHost
from ingest.live import LiveReader
from tests.support.rtsp import wait_for
from workers import keys
from workers.bus import RedisStreamBus

RED = "\x1b[31m"


def _cli(stack, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(tmp_path / "data"),
            "--redis-url",
            stack.redis_url,
            "--milvus-uri",
            stack.milvus_uri,
            *args,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_user_text_with_control_characters_prints_as_escapes() -> None:
    assert esc(f"{RED}Eve") == "\\x1b[31mEve"
    assert esc("Zoë\tO'Neil\n[b]") == "Zoë\tO'Neil\n\\[b]"  # letters, tabs and newlines kept


def test_a_rejected_person_name_never_reaches_the_terminal_raw(
    stack, tmp_path: Path, examples_dir: Path
) -> None:
    photo = next((examples_dir / "gallery").rglob("*.jpg"))
    done = _cli(stack, tmp_path, "--embedder", "dlib", "enroll", f"{RED}Eve", str(photo))
    assert done.returncode == 1 and "nothing enrolled" in done.stderr
    assert "\x1b" not in done.stderr + done.stdout
    assert "\\x1b[31mEve" in done.stderr


def test_run_on_a_directory_says_it_is_a_directory(stack, tmp_path: Path) -> None:
    done = _cli(stack, tmp_path, "run", str(tmp_path))
    assert done.returncode == 2
    assert "is a directory, not a video file" in done.stderr and "no such file" not in done.stderr


def _truncated(source: Path, into: Path) -> Path:
    """The clip remuxed with its index first (as streaming encoders write), then cut in half."""
    av = pytest.importorskip("av")
    whole = into.with_suffix(".whole.mp4")
    with (
        av.open(str(source)) as src,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = whole.read_bytes()
    into.write_bytes(data[: len(data) // 2])
    return into


def test_a_truncated_file_ends_with_a_warning(
    settings, redis_client, examples_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clip = _truncated(examples_dir / "hamilton_360p.mp4", tmp_path / "cut.mp4")
    roomy = settings.model_copy(
        update={"max_in_flight_frames": 1000}
    )  # no workers: nothing is done
    with (
        caplog.at_level(logging.WARNING, logger="ingest"),
        GrabberHost(redis_client, RedisStreamBus(redis_client), roomy) as host,
    ):
        cam = host.start("cut", str(clip))
        assert wait_for(lambda: cam.grabber.stats.total is not None, 120)
    declared = int(redis_client.hget(keys.camera_info("cut"), "expected_frames"))
    read = cam.grabber.stats.total
    assert 0 < read < declared  # 133 of 275 with this clip
    warned = [r.getMessage() for r in caplog.records if "could be read" in r.getMessage()]
    assert warned == [
        (
            f"camera cut: the container declares {declared} frames, only {read} could be "
            "read (a truncated or damaged file?)"
        )
    ]


def test_a_dead_camera_is_said_once_per_state_not_once_per_attempt(
    settings, redis_client, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on: every connect is refused at once
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    policy = CameraPolicy(
        reconnect_initial_s=0.05, reconnect_max_s=0.1, open_timeout_s=1.0
    ).resolved(settings.live)
    stop = threading.Event()
    reporter = StateReporter(redis_client, "dead", "r1")
    with caplog.at_level(logging.INFO, logger="ingest"):
        reader = LiveReader(f"rtsp://127.0.0.1:{port}/cam", policy, reporter, stop).start()
        assert wait_for(lambda: reader.reconnects >= 6, 60), reader.reconnects
        stop.set()
        time.sleep(0.5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 2, warnings  # the first failure and the reconnecting state
    infos = [
        r
        for r in caplog.records
        if r.levelno == logging.INFO and "reconnecting in" in r.getMessage()
    ]
    assert len(infos) >= 5  # every attempt is still in the log
