"""A `facestream run` SIGKILLed mid-clip, then run again: the second run reports what an
undisturbed run reports.

Real processes throughout: `facestream run` on hamilton_360p with the examples gallery enrolled,
its worker processes (real MTCNN and dlib), a real Valkey/Redis and milvus-lite. A file run's
grabber is a thread of `run`, so killing the grabber kills `run`. Its workers must die with it
(else the next run counts them as its own and they finish the dead run's frames among the new
run's), and what the dead run left in the streams is discarded and counted, not processed into
the new run's records or state.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import redis

from bench import faults
from tests.support.faults import children, frames_done, running, stage_counter
from tests.support.restart import (
    CAMERA,
    FRAMES,
    fresh_run,
    same_records,
    start_run,
    undisturbed,
)
from tests.support.rtsp import wait_for
from workers import keys

pytestmark = pytest.mark.slow
KILL_AT = 140  # frames done: mid-clip, with frames in flight in every stream


def test_a_run_killed_mid_clip_then_run_again_reports_what_an_undisturbed_run_reports(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    video = examples_dir / "hamilton_360p.mp4"
    calm = undisturbed(client, data_dir, endpoints, video, tmp_path)

    killed_out, killed_log = tmp_path / "killed.jsonl", tmp_path / "killed.err"
    run = fresh_run(client, data_dir, endpoints, video, killed_out, killed_log)
    try:
        assert wait_for(lambda: frames_done(client, CAMERA) >= KILL_AT, 600), (
            f"progress stuck at {frames_done(client, CAMERA)}"
        )
        workers = children(run.pid)
        os.kill(run.pid, signal.SIGKILL)
        run.wait(30)
    finally:
        if run.poll() is None:
            run.kill()
    assert len(workers) >= 4, f"expected the run's 4 worker processes, got {workers}"
    left = wait_for(lambda: not any(running(p) for p in workers), 10) or [
        p for p in workers if running(p)
    ]
    assert left is True, f"workers of the killed run still running 10 s later: {left}"
    superseded = stage_counter(client, "superseded")

    again, again_log = tmp_path / "again.jsonl", tmp_path / "again.err"
    rerun = start_run(data_dir, endpoints, video, again, again_log)
    code = rerun.wait(900)
    err = again_log.read_text()
    assert code == 0, err[-3000:]
    assert "started workers: detect, track, embed, match" in err, err[-2000:]
    assert f"{FRAMES}/{FRAMES} frames accounted for" in err
    rows = same_records(calm, again, "after a killed run")
    assert {r["run"] for r in rows} == {client.hget(keys.camera_info(CAMERA), "run").decode()}
    # the killed run's frames in flight were discarded, and counted
    assert stage_counter(client, "superseded") > superseded


def test_the_next_run_adopts_and_stops_the_servers_a_killed_run_started(
    examples_dir: Path, tmp_path: Path
) -> None:
    """A killed `run` cannot stop the embedded Valkey and milvus-lite it started; the next run
    over the same data reuses them, and (their owner being gone) looks after them and stops
    them at its end, as if it had started them."""
    template = faults.prepare(tmp_path, examples_dir / "gallery")
    clip = examples_dir / "hamilton_360p.mp4"
    _records, row = faults.run_once(template, tmp_path, clip, "grabber", 100, "killed")
    err = (tmp_path / "killed.err").read_text()
    assert row.killed and row.exit_code == 0, err[-3000:]
    assert row.accounted == f"{FRAMES}/{FRAMES}", err[-3000:]
    assert row.left_behind == 0, f"{row.left_behind} processes of the killed run left running"
