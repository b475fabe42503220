"""The tracker SIGKILLed three times during a file run reports what an undisturbed run reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. The supervisor
restarts the killed tracker; the new one takes the camera's state (tracks, Kalman filters, id
counter, reorder buffer) from Redis and first finishes the entries the dead one had read.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import redis

from tests.e2e.test_matcher_restart import CAMERA, FRAMES, canonical, lifecycle_ok, start_run
from tests.support.rtsp import wait_for
from workers import codec, keys

pytestmark = pytest.mark.slow


def test_tracker_killed_three_times_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm, calm_log = tmp_path / "calm.jsonl", tmp_path / "calm.err"
    client.delete(keys.camera_info(CAMERA))
    assert start_run(data_dir, endpoints, video, calm, calm_log).wait(900) == 0, (
        calm_log.read_text()[-3000:]
    )

    def done() -> int:
        run = client.hget(keys.camera_info(CAMERA), "run")
        return int(client.hget(keys.progress(CAMERA, run.decode()), "done") or 0) if run else 0

    def tracked() -> int:
        """The highest frame the tracker has passed on in this run (the matcher trails it)."""
        run = client.hget(keys.camera_info(CAMERA), "run")
        state = client.hget(keys.track_state(CAMERA), "state")
        if not run or not state:
            return 0
        data = codec.decode(state)
        return data["next_seq"] if data["run"] == run.decode() else 0

    def busy_tracker() -> int | None:
        for key in client.keys(keys.health_pattern("track")):
            info = json.loads(client.get(key) or "{}")
            consumer = f"{info.get('host')}-{info.get('pid')}"
            if client.xpending_range(keys.DETECTED, "track", "-", "+", 1, consumername=consumer):
                return int(info["pid"])
        return None

    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    client.delete(keys.camera_info(CAMERA))  # the previous run's id must not count as this one's
    run = start_run(data_dir, endpoints, video, out, log)
    kills = []
    try:
        for at in (60, 140, 220):  # frames tracked when killed: three different points of the clip
            assert wait_for(lambda at=at: tracked() >= at, 600), f"tracker stuck at {tracked()}"
            pid = wait_for(busy_tracker, 120, 0.02)
            assert pid, f"no busy tracker to kill at {tracked()} frames tracked"
            os.kill(pid, signal.SIGKILL)
            client.delete(*client.keys(keys.health_pattern("track")))  # its heartbeat lingers
            kills.append((pid, tracked(), done()))
            print(f"\ntracker pid {pid} SIGKILLed at {kills[-1][1]} frames tracked")
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
