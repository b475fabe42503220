"""Smoke test of the benchmark harness: a tiny run of every row kind; no timing assertions."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_every_row_kind_on_a_few_frames(shared_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cmd = [
        sys.executable,
        "-m",
        "bench",
        str(shared_dir / "media" / "hamilton_360p.mp4"),
        "--max-frames",
        "8",
        "--sections",
        "stages,facestream,naive,face_recognition,live,gallery",
        "--gallery-sizes",
        "500",
        "--set",
        "detect.every_n=2",
        "--skip-full-rate",
        "--out",
        str(out),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    systems = {(r["system"], r.get("label"), r["mode"]) for r in results["systems"]}
    assert {
        ("facestream", "tuned", "file"),
        ("facestream", "tuned", "paced"),
        ("naive", None, "file"),
    } <= systems
    if importlib.util.find_spec("face_recognition") is not None:
        assert ("face_recognition", None, "file") in systems
    else:
        assert any("face_recognition" in s for s in results["skipped"])
    for row in results["systems"]:
        assert (
            row["frames"] == 8
            and row["fps"] > 0
            and 0 <= row["precision"] <= 1
            and 0 <= row["recall"] <= 1
        )
        assert row["cpu_s_per_frame"] > 0 and row["peak_rss_mb"] > 0
    tuned = next(r for r in results["systems"] if r.get("label") == "tuned" and r["mode"] == "file")
    assert tuned["settings"]["detect.every_n"] == 2
    assert {s["label"] for s in results["stages"]} == {"tuned"}
    assert all(s["frames"] == 8 and s["ms_per_frame"]["detect"] > 0 for s in results["stages"])
    assert {(g["backend"], g["gallery"]) for g in results["gallery"]} == {
        ("numpy", 500),
        ("milvus-lite", 500),
    }
    assert "facestream" in done.stdout and "milvus-lite" in done.stdout  # the table


def test_sse_load_bench_runs_the_pipeline_alone_and_with_subscribers() -> None:
    cmd = [sys.executable, "-m", "bench.sse_load", "--subscribers", "3", "--rounds", "1"]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "3/3 subscribers got all" in done.stdout, done.stdout
    assert "with 3 SSE subscribers" in done.stdout and "ratio" in done.stdout, done.stdout
