"""Stage figures for the health key and the Prometheus endpoint."""

from __future__ import annotations

import urllib.request
from types import SimpleNamespace

from workers import metrics


def test_observer_summary_and_drops() -> None:
    clock = iter([0.0, 10.0]).__next__
    obs = metrics.StageObserver("teststage", clock=clock, wall=lambda: 100.0)
    msg = SimpleNamespace(kind="frame", capture_time=99.5, dropped=None)
    for _ in range(5):
        obs.handled(msg, [("s", SimpleNamespace(dropped=None))], 0.2)
    obs.handled(msg, [("s", SimpleNamespace(dropped="stale"))], 0.2)
    summary = obs.summary()
    assert summary["fps"] == 0.6 and summary["stage_ms"] == 200.0 and summary["latency_ms"] == 500.0
    assert metrics.DROPS.labels("teststage", "stale")._value.get() == 1
    assert metrics.FRAMES.labels("teststage")._value.get() == 6


def test_serve_on_a_free_port_and_off() -> None:
    assert metrics.serve("127.0.0.1", -1) is None
    port = metrics.serve("127.0.0.1", 0)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert "facestream_stage_seconds" in text and "facestream_queue_lag" in text
