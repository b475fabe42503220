"""`facestream run`'s warm stop is bounded: with nobody left to finish the frames in flight, it gives up
after ``stop_timeout_s`` and says what was not accounted for (real grabber, real MJPEG camera, real Redis)."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path

from rich.console import Console

from config.cameras import CameraPolicy
from facestream.processes import WorkerProcesses
from facestream.runner import ResultsReader, _follow
from facestream.services import Services
from facestream.stack import Endpoints
from facestream.stopping import StopRequest
from ingest.host import GrabberHost
from tests.support.http_video import MjpegServer
from tests.support.rtsp import wait_for
from workers.bus import RedisStreamBus
from workers.progress import RunProgress


def test_a_stop_with_frames_nobody_finishes_gives_up_after_stop_timeout(
    settings, redis_client, stack: Endpoints, examples_dir: Path
) -> None:
    services = Services(settings, stack)
    stop = threading.Event()
    with (
        MjpegServer(examples_dir / "hamilton_360p.mp4", fps=15) as camera,
        GrabberHost(redis_client, RedisStreamBus(redis_client), settings) as host,
    ):
        policy = CameraPolicy(max_in_flight_frames=5)
        cam = host.start("hall", camera.url, policy=policy, stop=stop)
        grabber = cam.grabber
        # no worker runs: the frames it publishes are never done
        ledger = RunProgress(redis_client, "hall", grabber.stats.run)
        assert wait_for(lambda: ledger.read().published >= 5, 30)
        out = io.StringIO()
        request = StopRequest()
        request.requested = True  # as the first Ctrl-C/SIGTERM does
        started = time.monotonic()
        _follow(
            [cam],
            ResultsReader(services, {"hall"}, None),
            WorkerProcesses(settings, stack),
            Console(file=out, width=200),
            redis_client,
            stop,
            request,
            stop_timeout_s=2.0,
        )
        took = time.monotonic() - started
        cam.thread.join(10)
    assert stop.is_set() and not cam.thread.is_alive()
    assert 2.0 <= took < 10.0, took
    text = out.getvalue()
    total = grabber.stats.total
    assert "stopping: finishing the frames in flight" in text
    assert (
        f"stopped waiting after 2 s: hall: {total} of {total} frames not accounted for" in text
    ), text
