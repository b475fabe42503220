"""Prometheus metrics of one process, and the rolling figures its health key carries.

Every facestream process (worker, grabber) serves ``/metrics`` on its own port
(``metrics_port``; 0 = any free port, listed by ``facestream status``). The
series carry no camera URL, password or face data: only stage, camera name,
stream, group and drop reason labels.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger(__name__)

_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

FRAMES = Counter("facestream_frames_total", "Frames handled by a stage", ["stage"])
STAGE_SECONDS = Histogram(
    "facestream_stage_seconds", "Time a stage spends on one frame", ["stage"], buckets=_BUCKETS
)
LATENCY_SECONDS = Histogram(
    "facestream_latency_seconds",
    "Capture to the end of a stage, per frame",
    ["stage"],
    buckets=_BUCKETS,
)
DROPS = Counter(
    "facestream_dropped_frames_total", "Frames dropped, by stage and reason", ["stage", "reason"]
)
DEAD_LETTERS = Counter(
    "facestream_dead_letters_total", "Entries moved to the dead-letter stream", ["stage"]
)
ERRORS = Counter(
    "facestream_handler_errors_total", "Handler exceptions (the entry is retried)", ["stage"]
)
QUEUE_LAG = Gauge(
    "facestream_queue_lag", "Entries not yet delivered to a consumer group", ["stream", "group"]
)
QUEUE_PENDING = Gauge(
    "facestream_queue_pending", "Entries delivered but not acked", ["stream", "group"]
)
PUBLISHED = Counter("facestream_ingest_frames_total", "Frames published by a grabber", ["camera"])


def serve(host: str, port: int) -> int | None:
    """Start the /metrics endpoint; the bound port, or None when ``port`` is -1 (off)."""
    if port < 0:
        return None
    server, _thread = start_http_server(port, addr=host)
    bound = int(server.server_port)
    log.info("Prometheus metrics on http://%s:%d/metrics", host, bound)
    return bound


@dataclass
class _Window:
    started: float
    frames: int = 0
    busy_s: float = 0.0
    latency_s: float = 0.0


class StageObserver:
    """Hooks the runtime calls; feeds Prometheus and a rolling window for the health key."""

    def __init__(self, stage: str, clock=time.monotonic, wall=time.time):
        self.stage = stage
        self.clock = clock
        self.wall = wall
        self.endpoint: str | None = None  # "host:port" of /metrics, shown by status
        self._window = _Window(clock())

    def handled(self, msg, outputs: list, seconds: float) -> None:
        """One entry went through ``handle`` and its outputs were published."""
        if getattr(msg, "kind", "frame") != "frame":
            return
        FRAMES.labels(self.stage).inc()
        STAGE_SECONDS.labels(self.stage).observe(seconds)
        latency = max(0.0, self.wall() - msg.capture_time)
        LATENCY_SECONDS.labels(self.stage).observe(latency)
        w = self._window
        w.frames += 1
        w.busy_s += seconds
        w.latency_s += latency
        if msg.dropped:
            return
        for _stream, out in outputs:
            reason = getattr(out, "dropped", None)
            if reason:
                self.dropped(reason)

    def dropped(self, reason: str) -> None:
        DROPS.labels(self.stage, reason).inc()

    def dead_letter(self) -> None:
        DEAD_LETTERS.labels(self.stage).inc()

    def error(self) -> None:
        ERRORS.labels(self.stage).inc()

    def queues(self, groups: list[dict]) -> None:
        """``groups``: rows with stream, group, lag, pending (from XINFO GROUPS)."""
        for row in groups:
            if row.get("lag") is not None:
                QUEUE_LAG.labels(row["stream"], row["group"]).set(row["lag"])
            QUEUE_PENDING.labels(row["stream"], row["group"]).set(row["pending"])

    def summary(self) -> dict:
        """Frames/s and mean latencies since the last call (for the health key), then a new window."""
        now = self.clock()
        w, self._window = self._window, _Window(now)
        elapsed = max(now - w.started, 1e-6)
        n = max(w.frames, 1)
        return {
            "fps": round(w.frames / elapsed, 3),
            "stage_ms": round(1000 * w.busy_s / n, 1) if w.frames else None,
            "latency_ms": round(1000 * w.latency_s / n, 1) if w.frames else None,
            "metrics": self.endpoint,
        }
