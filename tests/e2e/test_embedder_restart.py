"""The embedder SIGKILLed three times during a file run: the run reports what an undisturbed run
reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. The killed
embedder's entries come back only once reclaimed, after later frames have reached the matcher;
the matcher applies a file's frames in seq order all the same, so votes, names and `end` events
fall on the same frames as without the kill.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import redis

from tests.e2e.test_matcher_restart import CAMERA, FRAMES, canonical, lifecycle_ok, start_run
from tests.support.faults import busy_worker, frames_done
from tests.support.rtsp import wait_for
from workers import keys

pytestmark = pytest.mark.slow


def test_embedder_killed_three_times_reports_what_an_undisturbed_run_reports(
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

    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    client.delete(keys.camera_info(CAMERA))  # the previous run's id must not count as this one's
    run = start_run(data_dir, endpoints, video, out, log)
    kills = []
    try:
        # frames done when killed: early (tracks young), mid-clip, and near the end (the last
        # tracks' `end` events)
        for at in (16, 120, 215):
            assert wait_for(lambda at=at: frames_done(client, CAMERA) >= at, 600), (
                f"progress stuck at {frames_done(client, CAMERA)}"
            )
            pid = wait_for(lambda: busy_worker(client, "embed", keys.TRACKED, "embed"), 120, 0.02)
            assert pid, f"no busy embedder to kill at {frames_done(client, CAMERA)} frames done"
            os.kill(pid, signal.SIGKILL)
            kills.append((pid, frames_done(client, CAMERA)))
            print(f"\nembedder pid {pid} SIGKILLed at {kills[-1][1]} frames done")
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
