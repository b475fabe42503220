"""Camera state changes: published on ``fs:events``, counted in the camera's hash, and logged.

An event is a msgpack map ``{camera, run, state, time, ...details}``; the
camera hash ``fs:camera:{name}`` holds the current ``state`` and a counter
``state:<name>`` per state. While Redis is unreachable, events are logged and
counted locally only: reporting never stops a grabber.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import redis

from workers import codec, keys
from workers.backoff import REDIS_DOWN

log = logging.getLogger(__name__)
STATES = ("connecting", "streaming", "stalled", "reconnecting", "ended", "stopped")
EVENTS_MAXLEN = 10_000


class StateReporter:
    def __init__(self, client: redis.Redis, camera: str, run: str):
        self.redis = client
        self.camera = camera
        self.run = run
        self.state: str | None = None
        self.counts: Counter[str] = Counter()
        self._warned: set[str] = set()  # problem states said at WARNING since the last streaming
        self._lock = threading.Lock()

    def __call__(self, state: str, **details: object) -> None:
        with self._lock:
            if state == self.state and state != "stalled":
                return  # a change, not a heartbeat
            # a dead camera cycles stalled/reconnecting every attempt: each is published and
            # counted, but said on the console once until the camera streams again
            warn = state in ("stalled", "reconnecting") and state not in self._warned
            self._warned = set() if state == "streaming" else self._warned | {state}
            self.state = state
            self.counts[state] += 1
        level = logging.WARNING if warn else logging.INFO
        log.log(level, "camera %s: %s %s", self.camera, state, details or "")
        event = {
            "camera": self.camera,
            "run": self.run,
            "state": state,
            "time": time.time(),
            **details,
        }
        try:
            pipe = self.redis.pipeline()
            pipe.xadd(
                keys.EVENTS, {"m": codec.encode(event)}, maxlen=EVENTS_MAXLEN, approximate=True
            )
            pipe.hset(keys.camera_info(self.camera), "state", state)
            pipe.hincrby(keys.camera_info(self.camera), f"state:{state}", 1)
            pipe.execute()
        except REDIS_DOWN as exc:
            log.warning(
                "camera %s: state %s not published (Redis unreachable: %s)", self.camera, state, exc
            )
