"""Cameras on a running stack: the list lives in Redis, one grabber thread per camera.

``facestream cameras add NAME URL`` / ``rm NAME`` edit the hash
``fs:camera-sources``; the ``cameras serve`` process (one per stack, run by
supervisor) follows it and starts or stops a grabber per camera on its
:class:`~ingest.host.GrabberHost`. Source URLs may carry credentials: Redis holds
them sealed (:mod:`facestream.camera_urls`) and they are shown only redacted.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis

from config.cameras import check_name
from config.redact import redact_url, register_url
from facestream import camera_urls
from facestream.stopping import StopRequest
from ingest.host import GrabberHost
from workers import keys

log = logging.getLogger(__name__)
RESTART_DELAY_S = 5.0


def add(client: redis.Redis, name: str, url: str, data_dir: Path) -> None:
    check_name(name)
    camera_urls.add(client, data_dir, name, url)


def remove(client: redis.Redis, name: str) -> bool:
    return bool(client.hdel(keys.CAMERA_SOURCES, name))


def sources(client: redis.Redis) -> dict[str, str]:
    """Camera -> its URL as shown (redacted); only the camera manager opens the real one."""
    return {name: camera_urls.shown(value) for name, value in camera_urls.stored(client).items()}


class CameraManager:
    """Follows ``fs:camera-sources``; restarts a live camera whose grabber died, never a file that ended."""

    def __init__(self, host: GrabberHost):
        self.host = host
        self.redis = host.redis
        self.urls = camera_urls.Opener(host.redis, Path(host.settings.data_dir))

    def run(self, request: StopRequest, poll_s: float = 1.0) -> None:
        """Until a stop is requested; leaving the host's context then stops the grabbers."""
        log.info("camera manager started")
        while not request.requested:
            self.step()
            request.wait(poll_s)
        log.info("camera manager stopping")

    def step(self) -> None:
        wanted = self.urls.urls()
        for name in self.host.cameras():
            if wanted.get(name) != self.host.grabbers[name].url:
                log.info("camera %s removed or changed: stopping its grabber", name)
                self.host.remove(name)
                if name not in wanted:
                    self.redis.hset(keys.camera_info(name), "state", "removed")
        now = time.monotonic()
        for name, url in wanted.items():
            cam = self.host.grabbers.get(name)
            if cam is not None and (
                cam.alive()
                or not cam.grabber.live
                or cam.ended_at is None
                or now - cam.ended_at < RESTART_DELAY_S
            ):
                continue
            if cam is not None:
                log.warning(
                    "camera %s: grabber ended (%s); restarting", name, cam.error or "source ended"
                )
            self._start(name, url)

    def _start(self, name: str, url: str) -> None:
        register_url(url)

        def failed(exc: BaseException) -> None:  # reported here, retried by step()
            log.error("camera %s (%s): %s", name, redact_url(url), exc)
            self.redis.hset(keys.camera_info(name), "state", "failed")

        self.host.start(name, url, on_error=failed)
        log.info("camera %s: grabbing %s", name, redact_url(url))
