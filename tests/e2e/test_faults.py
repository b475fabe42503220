"""Workers killed with SIGKILL, and Redis killed with SIGKILL, during a file run.

Real processes throughout: the `facestream run` CLI, its worker processes (real
MTCNN and dlib), a real Valkey/Redis server with AOF (appendfsync everysec) and
milvus-lite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from facestream import servers
from facestream.stack import EmbeddedStack, with_password
from tests.support.rtsp import wait_for

pytestmark = pytest.mark.slow
FRAMES = 275  # hamilton_360p.mp4


def _start_run(
    data_dir: Path,
    redis_url: str,
    milvus_uri: str,
    video: Path,
    out: Path,
    log: Path,
    **settings: object,
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env.update({f"FACESTREAM_{k.upper()}": str(v) for k, v in settings.items()})
    cmd = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(data_dir),
        "--redis-url",
        redis_url,
        "--milvus-uri",
        milvus_uri,
        "run",
        str(video),
        "--out",
        str(out),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)


def _progress(client: redis.Redis, camera: str) -> dict[str, int]:
    keys = list(client.scan_iter(match=f"fs:progress:{camera}:*"))
    return {k.decode(): int(v) for k, v in client.hgetall(keys[-1]).items()} if keys else {}


def _pending(client: redis.Redis) -> dict[str, int]:
    out = {}
    for key in client.scan_iter(match="fs:*", _type="stream"):
        for group in client.xinfo_groups(key):
            out[f"{key.decode()}/{group['name'].decode()}"] = int(group["pending"])
    return out


def _duplicates(out: Path) -> int:
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    keys = Counter((r["camera"], r["frame"], r["track_id"], r.get("event")) for r in rows)
    return sum(n - 1 for n in keys.values() if n > 1)


@pytest.fixture
def private_stack(tmp_path: Path):
    with EmbeddedStack(
        Settings(data_dir=tmp_path / "stack", redis_url=None, milvus_uri=None)
    ) as endpoints:
        yield endpoints


def test_detector_killed_three_times_loses_and_duplicates_nothing(
    private_stack, examples_dir: Path, tmp_path: Path
) -> None:
    client = redis.Redis.from_url(private_stack.redis_url)
    out, log = tmp_path / "results.jsonl", tmp_path / "run.err"
    run = _start_run(
        tmp_path / "data",
        private_stack.redis_url,
        private_stack.milvus_uri,
        examples_dir / "hamilton_360p.mp4",
        out,
        log,
        # every frame detected: the run must last long enough for three kills and restarts
        detect_workers=2,
        bus_claim_idle_ms=3000,
        worker_restart_max_s=2,
        detect_every_n=1,
    )
    kills = 0
    try:
        while kills < 3:
            # a detector that holds unacked entries right now: killed mid-batch
            def victim() -> int | None:
                for info in (
                    json.loads(v) for v in map(client.get, client.keys("fs:health:detect:*")) if v
                ):
                    consumer = f"{info['host']}-{info['pid']}"
                    for stream in client.keys("fs:frames:*"):
                        if client.xpending_range(
                            stream, "detect", "-", "+", 1, consumername=consumer
                        ):
                            return info["pid"]
                return None

            pid = wait_for(victim, 180, 0.05)
            assert pid, (
                f"no busy detector to kill (kill {kills + 1}); progress {_progress(client, 'hamilton_360p')}"
            )
            os.kill(pid, signal.SIGKILL)
            client.delete(
                *client.keys(f"fs:health:detect:*-{pid}")
            )  # its heartbeat would linger for its TTL
            kills += 1
            done = _progress(client, "hamilton_360p").get("done", 0)
            print(f"\nkill {kills}: detector pid {pid} at {done} frames done")
            if kills < 3:  # the supervisor restarts it; wait until it works again, and for progress
                assert wait_for(lambda: len(client.keys("fs:health:detect:*")) >= 2, 120)
                assert wait_for(
                    lambda done=done: (
                        _progress(client, "hamilton_360p").get("done", 0) >= done + 15
                    ),
                    180,
                )
        code = run.wait(600)
    finally:
        if run.poll() is None:
            run.kill()
    err = log.read_text()
    assert code == 0, err[-3000:]
    assert f"{FRAMES}/{FRAMES} frames accounted for" in err
    assert err.count("restarting it in") >= 3, err[-2000:]
    progress = _progress(client, "hamilton_360p")
    print(f"progress after 3 kills: {progress}")
    assert progress["done"] == FRAMES and not any(k.startswith("dropped:") for k in progress), (
        progress
    )
    assert _duplicates(out) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert any(
        r.get("name") is None for r in rows
    )  # records flowed (nobody enrolled in this stack)
    pending = _pending(client)
    assert pending and not any(pending.values()), pending


def test_redis_killed_and_restarted_during_a_file_run(examples_dir: Path, tmp_path: Path) -> None:
    redis_dir = tmp_path / "redis-data"
    server = servers.start_redis(redis_dir)
    port = server.port
    url = with_password(
        server.url, servers.redis_password(redis_dir)
    )  # the server requires its password
    milvus = EmbeddedStack(Settings(data_dir=tmp_path / "stack", redis_url=url, milvus_uri=None))
    endpoints = milvus.start()
    client = redis.Redis.from_url(url)
    out, log = tmp_path / "results.jsonl", tmp_path / "run.err"
    run = _start_run(
        tmp_path / "data",
        url,
        endpoints.milvus_uri,
        examples_dir / "hamilton_360p.mp4",
        out,
        log,
        bus_claim_idle_ms=3000,
        track_reorder_wait_file_s=15,
    )
    try:
        assert wait_for(lambda: _progress(client, "hamilton_360p").get("done", 0) >= 80, 300)
        before = _progress(client, "hamilton_360p")
        lines_before = len(out.read_text().splitlines())
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        killed = time.time()
        time.sleep(3)
        server = servers.start_redis(redis_dir, port=port)
        print(
            f"\nRedis SIGKILLed at {before.get('done')} frames done ({before}); back after "
            f"{time.time() - killed:.1f} s; {lines_before} result lines read before"
        )
        after_restart = _progress(client, "hamilton_360p")
        print(f"progress as reloaded from the AOF: {after_restart}")
        code = run.wait(600)
        err = log.read_text()
        assert code == 0, err[-3000:]
        assert f"{FRAMES}/{FRAMES} frames accounted for" in err
        progress = _progress(client, "hamilton_360p")
        lost = {k: v for k, v in progress.items() if k.startswith("dropped:")}
        dup = _duplicates(out)
        print(
            f"final progress: {progress}; frames lost with Redis (given up as reorder_timeout): {lost or 0}; "
            f"duplicate result lines: {dup}; AOF appendfsync everysec promises at most ~1 s of writes lost"
        )
        assert progress["done"] == FRAMES and progress["finished"] == 1
        # the frames written in the last second before the kill are at most the in-flight window
        assert sum(lost.values()) <= Settings().max_in_flight_frames
    finally:
        if run.poll() is None:
            run.kill()
        milvus.stop()
        servers.stop(server)
