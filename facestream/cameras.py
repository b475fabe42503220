"""Cameras on a running stack: the list lives in Redis, one grabber thread per camera.

``facestream cameras add NAME URL`` / ``rm NAME`` edit the hash
``fs:camera-sources``; the ``cameras serve`` process (one per stack, run by
supervisor) follows it and starts or stops a :class:`~ingest.grabber.Grabber`
per camera. Source URLs may carry credentials: Redis holds them sealed
(:mod:`facestream.camera_urls`) and they are shown only redacted.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from config.cameras import check_name
from config.redact import redact_url, register_url
from config.settings import Settings
from facestream import camera_urls
from ingest.grabber import Grabber
from workers import keys
from workers.bus import Bus
from workers.metrics import PUBLISHED

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


class CountingBus:
    """A bus that counts what a grabber publishes (the ingest Prometheus series)."""

    def __init__(self, bus: Bus, camera: str):
        self._bus = bus
        self._counter = PUBLISHED.labels(camera)

    def publish(self, stream: str, payload: bytes, maxlen: int | None = None) -> str:
        self._counter.inc()
        return self._bus.publish(stream, payload, maxlen=maxlen)

    def __getattr__(self, name: str):
        return getattr(self._bus, name)


@dataclass
class Running:
    url: str
    stop: threading.Event
    thread: threading.Thread
    error: BaseException | None = None
    ended_at: float | None = None
    live: bool = field(default=False)


def heartbeat(client: redis.Redis, settings: Settings, cameras: list[str], endpoint: str | None) -> None:
    """The ingest process's health key (kind ``ingest``), listed by status like a worker's."""
    consumer = f"{socket.gethostname()}-{os.getpid()}"
    info = {"pid": os.getpid(), "host": socket.gethostname(), "kind": "ingest", "time": time.time(),
            "cameras": cameras, "metrics": endpoint}
    client.set(keys.health("ingest", consumer), json.dumps(info), ex=settings.health_ttl_s)


class CameraManager:
    """Follows ``fs:camera-sources``; restarts a live camera whose grabber died, never a file that ended."""

    def __init__(self, client: redis.Redis, bus: Bus, settings: Settings, endpoint: str | None = None):
        self.redis = client
        self.bus = bus
        self.settings = settings
        self.endpoint = endpoint
        self.running: dict[str, Running] = {}
        self.stopping = threading.Event()
        self.urls = camera_urls.Opener(client, Path(settings.data_dir))

    def run(self, poll_s: float = 1.0) -> None:
        log.info("camera manager started")
        while not self.stopping.is_set():
            self.step()
            self.stopping.wait(poll_s)
        for cam in self.running.values():
            cam.stop.set()
        for name, cam in self.running.items():
            cam.thread.join(timeout=10)
        log.info("camera manager stopped")

    def step(self) -> None:
        wanted = self.urls.urls()
        for name, cam in list(self.running.items()):
            if wanted.get(name) != cam.url:
                log.info("camera %s removed or changed: stopping its grabber", name)
                cam.stop.set()
                cam.thread.join(timeout=10)
                del self.running[name]
                if name not in wanted:
                    self.redis.hset(keys.camera_info(name), "state", "removed")
        now = time.monotonic()
        for name, url in wanted.items():
            cam = self.running.get(name)
            if cam is not None and (cam.thread.is_alive() or not cam.live or cam.ended_at is None
                                    or now - cam.ended_at < RESTART_DELAY_S):
                continue
            if cam is not None:
                log.warning("camera %s: grabber ended (%s); restarting", name, cam.error or "source ended")
            self.running[name] = self._start(name, url)
        heartbeat(self.redis, self.settings, sorted(self.running), self.endpoint)

    def _start(self, name: str, url: str) -> Running:
        from ingest.sources import is_live

        register_url(url)
        stop = threading.Event()
        grabber = Grabber(self.redis, CountingBus(self.bus, name), name, url, self.settings, stop=stop)
        cam = Running(url, stop, threading.Thread(target=lambda: None), live=is_live(url))

        def grab() -> None:
            try:
                grabber.run()
            except BaseException as exc:  # noqa: BLE001 - reported and retried by step()
                cam.error = exc
                log.error("camera %s (%s): %s", name, redact_url(url), exc)
                self.redis.hset(keys.camera_info(name), "state", "failed")
            finally:
                cam.ended_at = time.monotonic()

        cam.thread = threading.Thread(target=grab, name=f"grab-{name}", daemon=True)
        cam.thread.start()
        log.info("camera %s: grabbing %s", name, redact_url(url))
        return cam
