"""`facestream run` after a SIGKILL of the embedded Valkey or milvus-lite it started.

Real processes throughout: the CLI starts its own servers and workers (MTCNN, dlib) in a data
dir where examples/gallery was enrolled; the kill is a SIGKILL at a given frame (bench/faults.py
does the same for every process kind). Each run is compared with an undisturbed run.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from bench import faults
from config.settings import Settings
from facestream import servers
from facestream.stack import EmbeddedStack, with_password
from tests.support.rtsp import wait_for

pytestmark = pytest.mark.slow
FRAMES = 275  # hamilton_360p.mp4


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, examples_dir: Path):
    work = tmp_path_factory.mktemp("faults")
    template = faults.prepare(work, examples_dir / "gallery")
    clip = examples_dir / "hamilton_360p.mp4"
    records, row = faults.run_once(template, work, clip, None, None, "baseline")
    assert row.exit_code == 0 and row.accounted == f"{FRAMES}/{FRAMES}", row
    names = {r["name"] for r in records if r.get("name")}
    assert names, "the undisturbed run names somebody: the comparison means something"
    return work, template, clip, records, names


def _killed_run(reference, kind: str, frame: int):
    work, template, clip, base, names = reference
    records, row = faults.run_once(template, work, clip, kind, frame, kind)
    err = (work / f"{kind}.err").read_text()
    assert row.killed, row
    assert row.exit_code == 0, err[-3000:]
    assert row.accounted == f"{FRAMES}/{FRAMES}", err[-3000:]
    assert row.duplicates == 0
    assert faults.wrong_names(base, records) == 0
    assert {r["name"] for r in records if r.get("name")} == names
    assert "Traceback" not in err, err[-3000:]
    return records, row, err


def test_a_killed_valkey_is_restarted_and_the_run_matches_an_undisturbed_one(reference) -> None:
    records, row, err = _killed_run(reference, "valkey", 100)
    assert err.count("embedded Redis died; restarted") == 1, err[-3000:]
    # the AOF (appendfsync everysec) is reloaded: the frames of the lost second are done again
    assert faults.differing(reference[3], records) == 0
    print(f"\nValkey SIGKILLed at frame 100: {row}")


def test_a_killed_milvus_lite_is_restarted_and_the_file_run_matches_an_undisturbed_one(
    reference,
) -> None:
    records, row, err = _killed_run(reference, "milvus-lite", 45)
    assert err.count("embedded Milvus (milvus-lite) died; restarted") == 1, err[-3000:]
    # a file's frames wait for the gallery while it is away (a live camera's go on unnamed)
    assert faults.differing(reference[3], records) == 0
    print(f"\nmilvus-lite SIGKILLed at frame 45: {row}")


def test_ctrl_c_while_an_external_redis_is_down_exits_at_once(
    tmp_path: Path, examples_dir: Path
) -> None:
    """Nobody restarts a Redis the run did not start: Ctrl-C must not wait for it."""
    redis_dir = tmp_path / "redis"
    server = servers.start_redis(redis_dir)
    url = with_password(server.url, servers.redis_password(redis_dir))
    milvus = EmbeddedStack(Settings(data_dir=tmp_path / "m", redis_url=url, milvus_uri=None))
    endpoints = milvus.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    err_path = tmp_path / "run.err"
    cmd = [sys.executable, "-m", "facestream", "--data-dir", str(tmp_path / "data")]
    cmd += ["--redis-url", url, "--milvus-uri", endpoints.milvus_uri]
    cmd += ["run", str(examples_dir / "hamilton_360p.mp4")]
    with open(err_path, "w") as err_fh:
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err_fh)
    client = redis.Redis.from_url(url, socket_timeout=2)
    try:
        done = lambda: max(  # noqa: E731
            (int(client.hget(k, "done") or 0) for k in client.scan_iter(match="fs:progress:*")),
            default=0,
        )
        assert wait_for(lambda: done() >= 40, 300), err_path.read_text()[-2000:]
        os.kill(server.pid, signal.SIGKILL)
        server.proc.wait(10)
        time.sleep(3)  # the run notices
        run.send_signal(signal.SIGINT)
        asked = time.monotonic()
        code = run.wait(60)
        took = time.monotonic() - asked
    finally:
        if run.poll() is None:
            run.kill()
        milvus.stop()
    err = err_path.read_text()
    print(f"\nexit {code} {took:.1f} s after Ctrl-C during the outage:\n{err[-1500:]}")
    assert "Traceback" not in err, err[-3000:]
    assert code == 3, err[-3000:]  # frames not accounted for
    assert "frame(s) not accounted for" in err
    assert took < 30, f"exit took {took:.1f} s"
