"""The embedder SIGKILLed three times during a file run: the run reports what an undisturbed run
reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. The killed
embedder's entries come back only once reclaimed, after later frames have reached the matcher;
the matcher applies a file's frames in seq order all the same, so votes, names and `end` events
fall on the same frames as without the kill.
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


def test_embedder_killed_three_times_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm = undisturbed(client, data_dir, endpoints, video, tmp_path)

    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    run = fresh_run(client, data_dir, endpoints, video, out, log)
    try:
        # early (tracks young), mid-clip, and near the end (the last tracks' `end` events)
        kill_busy(
            client, "embed", keys.TRACKED, (16, 120, 215), lambda: frames_done(client, CAMERA)
        )
        code = run.wait(900)
    finally:
        if run.poll() is None:
            run.kill()
    ended_well(code, log)
    same_records(calm, out)
