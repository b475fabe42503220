"""The tracker SIGKILLed three times during a file run reports what an undisturbed run reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. The supervisor
restarts the killed tracker; the new one takes the camera's state (tracks, Kalman filters, id
counter, reorder buffer) from Redis and first finishes the entries the dead one had read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.support.restart import (
    CAMERA,
    ended_well,
    fresh_run,
    kill_busy,
    same_records,
    undisturbed,
)
from workers import codec, keys

pytestmark = pytest.mark.slow


def test_tracker_killed_three_times_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm = undisturbed(client, data_dir, endpoints, video, tmp_path)

    def tracked() -> int:
        """The highest frame the tracker has passed on in this run (the matcher trails it)."""
        run = client.hget(keys.camera_info(CAMERA), "run")
        state = client.hget(keys.track_state(CAMERA), "state")
        if not run or not state:
            return 0
        data = codec.decode(state)
        return data["next_seq"] if data["run"] == run.decode() else 0

    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    run = fresh_run(client, data_dir, endpoints, video, out, log)
    try:
        # frames tracked: three different points of the clip
        kill_busy(client, "track", keys.DETECTED, (60, 140, 220), tracked)
        code = run.wait(900)
    finally:
        if run.poll() is None:
            run.kill()
    ended_well(code, log)
    rows = same_records(calm, out)
    assert any(r.get("name") == "lin_manuel_miranda" for r in rows)
