"""Index jobs on real files and a real stack: bad files are reported by name and skipped, and a
worker SIGKILLed mid-job is resumed by another without losing or duplicating a face."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config.settings import Settings
from facestream.engine import FaceEngine
from facestream.indexing.jobs import REVIEW, IndexJobs
from facestream.indexing.review import Review
from facestream.indexing.sources import expand
from facestream.stack import Endpoints

pytestmark = pytest.mark.slow


def test_bad_files_are_reported_by_name_and_the_rest_indexed(
    settings: Settings, redis_client, milvus_client, shared_dir: Path, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    text = tmp_path / "notes.txt"
    text.write_text("a text file is no photo\n")
    whole = (shared_dir / "media" / "hamilton_360p.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(whole[: len(whole) // 5])
    good = [shared_dir / "faces" / "probes" / n for n in ("obama1.jpg", "two_people.jpg")]
    files = expand([corrupt, text, truncated, *good])
    engine = FaceEngine(settings)
    jobs = IndexJobs(redis_client)
    job = jobs.create(files, engine.embedder.name, announce=False)
    status = jobs.run(job, engine, settings, 0.92)
    assert status.state == REVIEW and status.done == status.total == 5
    assert status.candidates == 3, "one face in obama1.jpg, two in two_people.jpg"
    assert "not a readable image" in status.failed[str(corrupt)]
    assert "not a readable image" in status.failed[str(text)]
    # a truncated video is either unreadable or read in part: reported by name either way
    assert str(truncated) in status.failed or "truncated" in status.notes[str(truncated)]
    assert sum(g.size for g in Review(redis_client).groups()) == 3


def _worker(data_dir: Path, endpoints: Endpoints) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env["FACESTREAM_BUS_CLAIM_IDLE_MS"] = "3000"  # a dead worker's job is taken over soon
    cmd = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(data_dir),
        "--redis-url",
        endpoints.redis_url,
        "--milvus-uri",
        endpoints.milvus_uri,
        "--embedder",
        "dlib",
        "worker",
        "index",
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_sigkilled_worker_loses_and_duplicates_nothing(
    stack: Endpoints, redis_client, milvus_client, shared_dir: Path, tmp_path: Path
) -> None:
    files = expand([shared_dir / "faces" / "gallery"])  # ten photos, one face each
    jobs = IndexJobs(redis_client, "killed")
    job = jobs.create(files, "dlib")
    first = _worker(tmp_path / "w1", stack)
    try:
        _wait(lambda: jobs.status(job).done >= 3, 600, "the first worker's first files")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert jobs.status(job).state != REVIEW, "killed mid-job"
    second = _worker(tmp_path / "w2", stack)
    try:
        _wait(lambda: jobs.status(job).state == REVIEW, 900, "the second worker to finish")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=120)
    status = jobs.status(job)
    assert status.done == status.total == len(files) and not status.failed
    assert status.candidates == 10, "every face once, the file in flight at the kill included"
    faces = [f.cid for g in Review(redis_client, "killed").groups() for f in g.faces]
    assert len(faces) == len(set(faces)) == 10
    assert len(Review(redis_client, "killed").groups()) == 6, "six people in the gallery"
    assert not redis_client.xpending("fs:index:jobs", "index")["pending"]
