"""How `run` ends: stopped with frames neither processed nor dropped, it exits 3 and says how many;
with Milvus unreachable a file run still ends, unnamed, and says why (the real CLI, its real
workers, a real Redis and milvus-lite)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.rtsp import wait_for
from workers import keys
from workers.progress import RunProgress


def test_a_run_stopped_with_frames_in_flight_exits_3_and_says_how_many(
    stack, redis_client, tmp_path: Path, examples_dir: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env["FACESTREAM_WORKER_STOP_TIMEOUT_S"] = (
        "1"  # the workers are still loading models: nothing finishes in time
    )
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
            stack.milvus_uri,
            "--embedder",
            "dlib",
            "run",
            str(examples_dir / "hamilton_360p.mp4"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:

        def published() -> int:
            run = redis_client.hget(keys.camera_info("hamilton_360p"), "run")
            return (
                RunProgress(redis_client, "hamilton_360p", run.decode()).read().published
                if run
                else 0
            )

        assert wait_for(lambda: published() > 0, 120), "the grabber never published"
        proc.send_signal(signal.SIGINT)  # as Ctrl-C does: warm stop, bounded by stop_timeout_s
        _out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, err
    assert "frame(s) not accounted for" in err and "exit status 3" in err, err
    said = re.search(r"(\d+) frame\(s\) not accounted for", err)
    assert said is not None and int(said.group(1)) > 0, err


def test_a_file_run_with_milvus_unreachable_ends_and_says_so(
    stack, tmp_path: Path, examples_dir: Path
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    # before: every frame with a face failed in the matcher's connect, was dead-lettered and
    # never counted, and the run waited forever
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(tmp_path / "data"),
            "--redis-url",
            stack.redis_url,
            "--milvus-uri",
            f"http://127.0.0.1:{port}",
            "--embedder",
            "dlib",
            "run",
            str(examples_dir / "hamilton_360p.mp4"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "275/275 frames accounted for" in done.stderr and "dropped" not in done.stderr
    assert done.stderr.count("Milvus unreachable") == 2, (
        done.stderr
    )  # when it began, and at the end
    assert "during the run: Milvus unreachable" in done.stderr
