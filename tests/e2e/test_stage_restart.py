"""A stage's worker SIGKILLed three times during a file run: the run reports, record by record,
what an undisturbed run reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. Each time, a
worker of the stage is killed in the middle of a batch and the supervisor restarts it:

- the tracker: the new one takes the camera's state (tracks, Kalman filters, id counter,
  reorder buffer) from Redis and first finishes the entries the dead one had read;
- the embedder: its entries come back only once reclaimed, after later frames have reached the
  matcher; the matcher applies a file's frames in seq order all the same, so votes, names and
  `end` events fall on the same frames as without the kill;
- the matcher: the new one takes the camera's state from Redis and first finishes the entries
  the dead one had read.
"""

from __future__ import annotations

from collections.abc import Callable
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
from workers import codec, keys

pytestmark = pytest.mark.slow


def tracked(client: redis.Redis) -> int:
    """The highest frame the tracker has passed on in this run (the matcher trails it)."""
    run = client.hget(keys.camera_info(CAMERA), "run")
    state = client.hget(keys.track_state(CAMERA), "state")
    if not run or not state:
        return 0
    data = codec.decode(state)
    return data["next_seq"] if data["run"] == run.decode() else 0


def done(client: redis.Redis) -> int:
    return frames_done(client, CAMERA)


# stage, the stream its workers read, when to kill one (frames), how those frames are counted
STAGES: dict[str, tuple[str, tuple[int, ...], Callable[[redis.Redis], int]]] = {
    "track": (keys.DETECTED, (60, 140, 220), tracked),
    # early (tracks young), mid-clip, and near the end (the last tracks' `end` events)
    "embed": (keys.TRACKED, (16, 120, 215), done),
    "match": (keys.EMBEDDED, (60, 140, 220), done),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_stage_killed_three_times_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path, stage: str
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm = undisturbed(client, data_dir, endpoints, video, tmp_path)

    stream, at, progress = STAGES[stage]
    out, log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    run = fresh_run(client, data_dir, endpoints, video, out, log)
    try:
        kill_busy(client, stage, stream, at, lambda: progress(client))
        code = run.wait(900)
    finally:
        if run.poll() is None:
            run.kill()
    ended_well(code, log)
    rows = same_records(calm, out)
    assert any(r.get("name") == "lin_manuel_miranda" for r in rows)
