"""Tracking on the real clips: one track for Lin-Manuel Miranda, and 3 detectors give what 1 gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.slow
LIN = "lin_manuel_miranda"


def _rows(path: Path) -> list[dict]:
    return [r for r in map(json.loads, path.read_text().splitlines()) if "event" not in r]


def _canonical(rows: list[dict]) -> list[tuple]:
    """(frame, bbox, name, track) with tracks renamed by first appearance: equal up to id strings."""
    names: dict[str, int] = {}
    out = []
    for r in sorted(rows, key=lambda r: (r["frame"], r["bbox"])):
        out.append(
            (r["frame"], tuple(r["bbox"]), r["name"], names.setdefault(r["track_id"], len(names)))
        )
    return out


@pytest.fixture(scope="module")
def one_detector(cli, gallery_stack, examples_dir, tmp_path_factory) -> list[dict]:
    data_dir, endpoints = gallery_stack
    out = tmp_path_factory.mktemp("one") / "results.jsonl"
    done = cli(
        data_dir,
        endpoints,
        "run",
        str(examples_dir / "hamilton_360p.mp4"),
        "--camera",
        "one",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return _rows(out)


def test_frontal_shot_is_one_track_named_lin_and_no_wrong_name(one_detector) -> None:
    named = defaultdict(set)
    for r in one_detector:
        if r["name"] == LIN and 82 <= r["frame"] <= 210:
            named[r["frame"]].add(r["track_id"])
    assert len(named) >= 0.95 * 129, f"only {len(named)} of 129 frames named"
    assert len(set().union(*named.values())) == 1
    for r in one_detector:  # Lin only in his shots, obama only in the audience shot
        assert r["name"] in (None, LIN if r["frame"] <= 210 else "obama"), r
    per_frame = Counter((r["frame"], r["name"]) for r in one_detector if r["name"])
    assert max(per_frame.values()) == 1  # never two faces with one name in a frame


def test_three_detector_processes_give_the_same_names_and_tracks(
    cli, gallery_stack, examples_dir, one_detector, tmp_path
) -> None:
    data_dir, endpoints = gallery_stack
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env["FACESTREAM_TORCH_THREADS"] = "1"
    base = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(data_dir),
        "--redis-url",
        endpoints.redis_url,
        "--milvus-uri",
        endpoints.milvus_uri,
    ]
    detectors = [
        subprocess.Popen(
            base + ["worker", "detect"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for _ in range(3)
    ]
    try:
        client = redis.Redis.from_url(endpoints.redis_url)
        deadline = time.monotonic() + 120
        while sum(1 for _ in client.scan_iter(match="fs:health:detect:*")) < 3:
            assert time.monotonic() < deadline, "3 detector workers did not come up"
            assert all(p.poll() is None for p in detectors), "a detector worker died"
            time.sleep(0.5)
        out = tmp_path / "three.jsonl"
        done = cli(
            data_dir,
            endpoints,
            "run",
            str(examples_dir / "hamilton_360p.mp4"),
            "--camera",
            "three",
            "--out",
            str(out),
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert (
            "started workers: track, embed, match" in done.stderr
        )  # the three detectors did the detecting
    finally:
        for p in detectors:
            p.send_signal(signal.SIGTERM)
        for p in detectors:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    assert _canonical(_rows(out)) == _canonical(one_detector)
