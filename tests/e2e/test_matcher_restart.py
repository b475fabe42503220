"""The matcher SIGKILLed three times during a file run reports what an undisturbed run reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. The supervisor
restarts the killed matcher; the new one takes the camera's state from Redis and first finishes
the entries the dead one had read.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis

from tests.support.rtsp import wait_for
from workers import keys

pytestmark = pytest.mark.slow
CAMERA, FRAMES = "hamilton_360p", 275
SETTINGS = {"bus_claim_idle_ms": 3000, "worker_restart_max_s": 2}


def start_run(data_dir: Path, endpoints, video: Path, out: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env.update({f"FACESTREAM_{k.upper()}": str(v) for k, v in SETTINGS.items()})
    cmd = [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), "--redis-url"]
    cmd += [endpoints.redis_url, "--milvus-uri", endpoints.milvus_uri, "run", str(video)]
    return subprocess.Popen(
        [*cmd, "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True
    )


def canonical(out: Path) -> list[tuple]:
    """The run's records, with what differs between any two runs made equal: the tracker's
    per-run token in track ids, random unknown labels (numbered by first appearance), wall time,
    the run id."""
    labels: dict[str, str] = {}
    rows = []
    for line in out.read_text().splitlines():
        r = json.loads(line)
        r.pop("capture_time", None)
        r.pop("run", None)
        for field in ("track_id", "into"):
            if field in r:
                r[field] = re.sub(r"-[0-9a-f]{6}-", "-T-", r[field])
        if (r.get("label") or "").startswith("unknown-"):
            r["label"] = labels.setdefault(r["label"], f"unknown-{len(labels)}")
        rows.append(tuple(sorted((k, json.dumps(v)) for k, v in r.items())))
    return rows


def lifecycle_ok(rows: list[dict]) -> list[str]:
    """Problems with start/end events: a second start, a start after an end, a track never ended."""
    problems, started, ended = [], set(), set()
    for r in rows:
        track, event = r["track_id"], r.get("event")
        if event == "start":
            if track in started:
                problems.append(f"second start of {track} at frame {r['frame']}")
            started.add(track)
        elif event == "end":
            if track in ended:
                problems.append(f"second end of {track} at frame {r['frame']}")
            ended.add(track)
    problems += [f"{t} never ended" for t in started - ended]
    return problems


def test_matcher_killed_three_times_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm, calm_log = tmp_path / "calm.jsonl", tmp_path / "calm.err"
    assert start_run(data_dir, endpoints, video, calm, calm_log).wait(900) == 0, (
        calm_log.read_text()[-3000:]
    )

    def done() -> int:
        run = client.hget(keys.camera_info(CAMERA), "run")
        return int(client.hget(keys.progress(CAMERA, run.decode()), "done") or 0) if run else 0

    def busy_matcher() -> int | None:
        for key in client.keys(keys.health_pattern("match")):
            info = json.loads(client.get(key) or "{}")
            consumer = f"{info.get('host')}-{info.get('pid')}"
            if client.xpending_range(keys.EMBEDDED, "match", "-", "+", 1, consumername=consumer):
                return int(info["pid"])
        return None

    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    client.delete(keys.camera_info(CAMERA))  # the previous run's id must not count as this one's
    run = start_run(data_dir, endpoints, video, out, log)
    kills = []
    try:
        for at in (60, 140, 220):  # frames done when killed: three different points of the clip
            assert wait_for(lambda at=at: done() >= at, 600), f"progress stuck at {done()}"
            pid = wait_for(busy_matcher, 120, 0.02)
            assert pid, f"no busy matcher to kill at {done()} frames done"
            os.kill(pid, signal.SIGKILL)
            client.delete(*client.keys(keys.health_pattern("match")))  # its heartbeat lingers
            kills.append((pid, done()))
            print(f"\nmatcher pid {pid} SIGKILLed at {kills[-1][1]} frames done")
        code = run.wait(900)
    finally:
        if run.poll() is None:
            run.kill()
    err = log.read_text()
    assert code == 0, err[-3000:]
    assert f"{FRAMES}/{FRAMES} frames accounted for" in err
    assert err.count("restarting it in") >= 3, err[-2000:]
    want, got = canonical(calm), canonical(out)
    differing = len(set(want) ^ set(got))
    print(f"records: undisturbed {len(want)}, killed 3 times {len(got)}, differing {differing}")
    assert got == want
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert lifecycle_ok(rows) == []
    assert any(r.get("name") == "lin_manuel_miranda" for r in rows)
