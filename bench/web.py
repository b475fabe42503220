"""The web pages' costs, in Debian's chromium (headless) on a private embedded stack:

- live: hamilton_360p run as a file camera of a collection where lin_manuel_miranda is enrolled,
  its Live view open; per frame shown, the latency from the frame's capture (the grabber's clock)
  to the browser having drawn it (the image's load event); p50 and p95 over the run.
- live_paced: the same clip served as a live MJPEG camera at its frame rate, for
  ``--live-seconds``: a real camera's case, where the grabber keeps only the newest frames.
- people: the People page of a collection of 1,000 people (each with a thumbnail), first page of
  50; p50 and p95 of the browser's load time (navigation start to load event end) over --loads.

``python -m bench.web [--loads 10] [--people 1000] [--out results.json]``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from config.settings import Settings
from facestream import thumbnails
from facestream.apikeys import ApiKeys
from facestream.services import Services
from facestream.stack import EmbeddedStack
from tests.e2e.test_web_live import enroll_lin, run_file_camera
from tests.support.api_server import api_server
from tests.support.browser import Web, chromium, sign_in, wait_for
from workers import keys
from workers.gallery.collections import Collections

log = logging.getLogger(__name__)
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def pcts(values: list[float]) -> dict[str, float]:
    a = np.asarray(values, dtype=float)
    return {"n": len(values), "p50_ms": round(float(np.percentile(a, 50)), 1),
            "p95_ms": round(float(np.percentile(a, 95)), 1)}  # fmt: skip


def live_latency(web: Web, driver) -> dict:
    enroll_lin(web.url, web.admin, EXAMPLES)
    sign_in(driver, web.url, web.admin)
    run = run_file_camera(web, EXAMPLES / "hamilton_360p.mp4", "bench-cam")
    try:
        deadline = time.monotonic() + 120
        while not web.redis.sismember(keys.CAMERAS, "bench-cam"):
            if run.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the run never registered its camera: {run.stderr.read()}")
            time.sleep(0.1)
        driver.get(f"{web.url}/live/bench-cam")
        run.wait(timeout=900)
        time.sleep(2)
        latencies = driver.execute_script("return window.fsLatencies")
        labels = driver.execute_script("return window.fsLabels")
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(30)
    if not latencies:
        raise RuntimeError("no frame was drawn in the live view")
    return pcts(latencies) | {"named_lin": labels.count("lin_manuel_miranda")}


def paced_latency(web: Web, driver, seconds: float) -> dict:
    """The same clip as a live camera (MJPEG over HTTP at its 29.97 fps, looped): the grabber keeps
    the newest frames, as with a real camera, so queueing does not add up."""
    from tests.support.http_video import MjpegServer

    with MjpegServer(EXAMPLES / "hamilton_360p.mp4", fps=29.97, frames=275) as camera:
        run = run_file_camera(web, camera.url, "bench-live")
        try:
            deadline = time.monotonic() + 120
            while not web.redis.sismember(keys.CAMERAS, "bench-live"):
                if run.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the run never registered its camera: {run.stderr.read()}")
                time.sleep(0.1)
            driver.get(f"{web.url}/live/bench-live")
            time.sleep(seconds)
            latencies = driver.execute_script("return window.fsLatencies")
            sent = driver.execute_script("return window.fsServerLatencies")
            labels = driver.execute_script("return window.fsLabels")
        finally:
            run.terminate()
            run.wait(60)
    if not latencies:
        raise RuntimeError("no frame was drawn in the live view")
    return pcts(latencies) | {
        "named_lin": labels.count("lin_manuel_miranda"),
        "seconds": seconds,
        "capture_to_sent": pcts(sent),
    }


def people_load(web: Web, driver, people: int, loads: int) -> dict:
    Collections(web.redis).create("crowd")
    gallery = Services(web.settings, web.endpoints).gallery("crowd")
    face = (np.random.default_rng(0).random((120, 120, 3)) * 255).astype(np.uint8)
    jpeg = thumbnails.cut(face, [10, 10, 110, 110])
    for i in range(people):
        pid = gallery.people.get_or_create(f"person_{i:04d}")
        thumbnails.store(web.redis, pid, str(i), jpeg)
    sign_in(driver, web.url, web.admin)
    times = []
    for _ in range(loads):
        driver.get(f"{web.url}/people/crowd")
        wait_for(driver, lambda d: d.execute_script("return document.readyState") == "complete")
        times.append(driver.execute_script(
            "const t = performance.getEntriesByType('navigation')[0]; return t.loadEventEnd;"
        ))  # fmt: skip
    return pcts(times) | {"people": people}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--skip-live", action="store_true")
    parser.add_argument("--live-seconds", type=float, default=60.0, help="of the paced camera")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), redis_url=None, milvus_uri=None, embedder="dlib")
        with EmbeddedStack(base) as endpoints:
            settings = Settings(
                data_dir=Path(tmp), redis_url=endpoints.redis_url,
                milvus_uri=endpoints.milvus_uri, embedder="dlib",
            )  # fmt: skip
            client = Services(settings, endpoints).redis
            _, admin = ApiKeys(client).create("admin")
            with api_server(settings, endpoints) as url, chromium() as driver:
                web = Web(url, admin, settings, endpoints, client)
                found = {"people_page": people_load(web, driver, args.people, args.loads)}
                print(f"People page, {args.people} people: load p50 "
                      f"{found['people_page']['p50_ms']} ms, p95 {found['people_page']['p95_ms']} ms")  # fmt: skip
                if not args.skip_live:
                    found["live"] = live_latency(web, driver)
                    print(f"Live view, hamilton_360p file camera: capture->drawn p50 "
                          f"{found['live']['p50_ms']} ms, p95 {found['live']['p95_ms']} ms "
                          f"over {found['live']['n']} frames")  # fmt: skip
                    found["live_paced"] = paced_latency(web, driver, args.live_seconds)
                    print(f"Live view, hamilton_360p as a 29.97 fps MJPEG camera: capture->drawn "
                          f"p50 {found['live_paced']['p50_ms']} ms, p95 "
                          f"{found['live_paced']['p95_ms']} ms over {found['live_paced']['n']} "
                          f"frames (capture->sent by the server: p50 "
                          f"{found['live_paced']['capture_to_sent']['p50_ms']} ms, p95 "
                          f"{found['live_paced']['capture_to_sent']['p95_ms']} ms)")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(found, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
