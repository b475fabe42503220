"""One way to host grabbers in a process: `run`, `ingest` and `cameras serve` all use it.

Each grabber runs in its own thread and publishes through a :class:`CountingBus`
(the ``facestream_ingest_frames_total`` series); the thread keeps the error
that ended it, for its owner to report. The process's health key (kind
``ingest``, listing its cameras and its metrics endpoint) is refreshed by its
own thread, so a grabber busy with a slow source or a Redis outage never lets
it expire, and deleted when the host stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis

from config.cameras import CameraPolicy
from config.settings import Settings
from ingest.grabber import Grabber
from workers import health
from workers.backoff import REDIS_DOWN
from workers.bus import Bus
from workers.metrics import PUBLISHED

log = logging.getLogger(__name__)
KIND = "ingest"


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


class GrabberThread:
    """One grabber in its own thread; ``error`` holds what ended it, ``ended_at`` when."""

    def __init__(self, grabber: Grabber, on_error: Callable[[BaseException], None] | None = None):
        self.grabber = grabber
        self.error: BaseException | None = None
        self.ended_at: float | None = None
        self._on_error = on_error
        self.thread = threading.Thread(target=self._run, name=f"grab-{grabber.camera}", daemon=True)

    @property
    def camera(self) -> str:
        return self.grabber.camera

    @property
    def url(self) -> str:
        return self.grabber.url

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout_s: float | None = 10.0) -> None:
        self.grabber.stop.set()
        if self.thread.ident is not None:
            self.thread.join(timeout_s)

    def _run(self) -> None:
        try:
            self.grabber.run()
        except BaseException as exc:  # noqa: BLE001 - the owner decides what it means
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
        finally:
            self.ended_at = time.monotonic()


class GrabberHost:
    """The grabbers of this process, and its health key. Use as a context manager: leaving it
    stops every grabber (each finishes its current frame and sends its end of stream) and the
    heartbeat."""

    def __init__(
        self, client: redis.Redis, bus: Bus, settings: Settings, endpoint: str | None = None
    ):
        self.redis = client
        self.bus = bus
        self.settings = settings
        self.endpoint = endpoint  # host:port of this process's /metrics, shown by status
        self.consumer = health.consumer_name()
        self.grabbers: dict[str, GrabberThread] = {}
        self._lock = threading.Lock()  # the heartbeat thread reads the camera list
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None

    def __enter__(self) -> GrabberHost:
        self._beat_thread = threading.Thread(target=self._beat, name="ingest-health", daemon=True)
        self._beat_thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        # leaving on an error or a second Ctrl-C: don't wait long for a grabber stuck in a read
        self.stop_all(10.0 if exc_type is None else 1.0)

    def start(
        self,
        camera: str,
        url: str,
        policy: CameraPolicy | None = None,
        stop: threading.Event | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> GrabberThread:
        """Start grabbing ``url`` as ``camera`` (``stop``: an event shared with other grabbers)."""
        grabber = Grabber(
            self.redis,
            CountingBus(self.bus, camera),
            camera,
            url,
            self.settings,
            stop=stop,
            policy=policy,
        )
        hosted = GrabberThread(grabber, on_error)
        with self._lock:
            self.grabbers[camera] = hosted
        hosted.thread.start()
        if self._beat_thread is not None:
            self._beat_once()  # status lists the new camera now, not at the next refresh
        return hosted

    def remove(self, camera: str, timeout_s: float = 10.0) -> None:
        with self._lock:
            hosted = self.grabbers.pop(camera)
        hosted.stop(timeout_s)
        if self._beat_thread is not None:
            self._beat_once()

    def cameras(self) -> list[str]:
        with self._lock:
            return sorted(self.grabbers)

    def stop_all(self, timeout_s: float = 10.0) -> None:
        with self._lock:
            hosted = list(self.grabbers.values())
        for g in hosted:
            g.grabber.stop.set()
        for g in hosted:
            g.stop(timeout_s)
        self._beating.set()
        if self._beat_thread is not None:
            self._beat_thread.join(timeout_s)
            self._beat_thread = None
            try:
                health.clear(self.redis, KIND, self.consumer)
            except REDIS_DOWN:
                log.warning("Redis unreachable at stop: the ingest health key is left to expire")

    def _beat(self) -> None:
        while not self._beating.is_set():
            self._beat_once()
            self._beating.wait(health.refresh_s(self.settings.bus.health_ttl_s))

    def _beat_once(self) -> None:
        try:
            health.beat(
                self.redis,
                KIND,
                self.consumer,
                self.settings.bus.health_ttl_s,
                cameras=self.cameras(),
                metrics=self.endpoint,
            )
        except REDIS_DOWN as exc:  # the grabbers already warn, with backoff; the next beat retries
            log.info("ingest health key not written (Redis unreachable: %s)", exc)
        except redis.RedisError as exc:  # never let the beat thread die: its key would expire
            log.warning("ingest health key not written: %s", exc)
