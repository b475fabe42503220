"""Smoke test of bench/web.py: a short run of each of its measurements; no timing assertions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import chromium

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
ROOT = Path(__file__).resolve().parents[2]


def test_bench_web_measures_people_and_live_latency(tmp_path: Path) -> None:
    with chromium():  # the browser's prerequisite, skipped or failed as in the page tests
        pass
    out = tmp_path / "web.json"
    cmd = [sys.executable, "-m", "bench.web", "--loads", "2", "--people", "60",
           "--live-seconds", "10", "--out", str(out)]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1100)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(out.read_text())
    assert found["people_page"]["n"] == 2 and found["people_page"]["people"] == 60
    assert found["live"]["n"] > 0 and found["live"]["named_lin"] > 0
    assert found["live_paced"]["n"] > 0
    assert "People page, 60 people: load p50" in done.stdout
