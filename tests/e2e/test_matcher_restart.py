"""The matcher SIGKILLed three times during a file run reports what an undisturbed run reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. The supervisor
restarts the killed matcher; the new one takes the camera's state from Redis and first finishes
the entries the dead one had read.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from tests.support.faults import frames_done
from tests.support.restart import (
    CAMERA,
    ended_well,
    fresh_run,
    kill_busy,
    same_records,
    undisturbed,
)
from workers import keys

pytestmark = pytest.mark.slow


def test_matcher_killed_three_times_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm = undisturbed(client, data_dir, endpoints, video, tmp_path)

    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    run = fresh_run(client, data_dir, endpoints, video, out, log)
    try:
        # frames done: three different points of the clip
        kill_busy(
            client, "match", keys.EMBEDDED, (60, 140, 220), lambda: frames_done(client, CAMERA)
        )
        code = run.wait(900)
    finally:
        if run.poll() is None:
            run.kill()
    ended_well(code, log)
    rows = same_records(calm, out)
    assert any(r.get("name") == "lin_manuel_miranda" for r in rows)
