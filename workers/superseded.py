"""Entries of a run that a newer run of the same camera has replaced: discarded, counted.

A camera's grabber registers its run in ``keys.camera_info(camera)`` (``run``) before it
publishes the run's first frame. A `run` killed mid-clip leaves entries behind in every stream
(unread, or pending with its dead workers, reclaimed later); the next run of that camera starts
the clip again. Processed, those leftovers would reach the new run's output and, arriving after
the new run's frames, switch the tracker's and matcher's per-camera state back to the dead run.
So a stage discards an entry whose run is not its camera's registered one.

The registered run is read once per read from the bus, at the first entry of each camera (not
cached across reads): an entry of a new run implies that run was registered before it was
published, so any read that holds or follows a new run's entry sees the new run, and no stage
handles an old run's entry after a new run's one. A camera with no registered run (frames
published by a benchmark or a test) discards nothing.
"""

from __future__ import annotations

import logging

import redis

from workers import keys
from workers.messages import FrameMsg

log = logging.getLogger(__name__)


class Superseded:
    """Tells entries of a replaced run from those of the camera's current one."""

    def __init__(self, client: redis.Redis | None):
        self.redis = client  # None: no registry (unit tests of handlers): nothing is superseded
        self._current: dict[str, str | None] = {}  # camera -> its run, as read for this batch
        self._said: set[tuple[str, str]] = set()  # (camera, run) discards already logged

    def new_batch(self) -> None:
        """Forget what was read: the next entry of each camera reads its run again."""
        self._current.clear()

    def __call__(self, msg: FrameMsg) -> bool:
        """Whether ``msg`` belongs to a run its camera no longer runs."""
        if self.redis is None:
            return False
        if msg.camera not in self._current:
            run = self.redis.hget(keys.camera_info(msg.camera), "run")
            self._current[msg.camera] = run.decode() if isinstance(run, bytes) else run
        current = self._current[msg.camera]
        if current is None or current == msg.run:
            return False
        if (msg.camera, msg.run) not in self._said:
            self._said.add((msg.camera, msg.run))
            log.warning(
                "camera %s: discarding entries of run %s (replaced by run %s)",
                msg.camera,
                msg.run,
                current,
            )
        return True
