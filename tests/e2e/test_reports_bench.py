"""The screen-time benchmark on one composited scene: within 5 % of the ground truth per person."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import reports

pytestmark = pytest.mark.slow
SCENE = "reenter"  # two people leave the frame and come back; a third stays


def test_screen_time_of_a_scene_is_within_5_percent(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench-reports.json"
    assert reports.main(["--scenes", SCENE, "--parts", "screen-time", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["screen_time"]["rows"]
    assert {r["person"] for r in rows} == {"obama", "rose_leslie"}  # kate_siegel is not enrolled
    for r in rows:
        assert r["error_pct"] <= 5.0, r
        assert r["truth_s"] > 3.0, r  # they do leave: less than the 7 s of the scene
        assert r["truth_s"] < 6.5, r
