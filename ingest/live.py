"""A live source that never gives up: connect, stream, detect stalls, reconnect with backoff, forever.

One connection thread owns one OpenCV capture (open, read, release all happen
in that thread). A watchdog thread starts connections and watches them: no
frame within ``open_timeout_s`` of connecting, or for ``stall_timeout_s``
while streaming, is a stall. A stalled connection is abandoned, not waited
for (FFmpeg retries a timed-out RTSP read a few times before giving up); its
thread releases its capture and exits when its read returns. Between attempts
the watchdog waits with capped exponential backoff and jitter.

Only the newest frame is kept (``take``): a consumer slower than the camera
sees the present, never a growing backlog; the frames it never took are counted
(``overwritten``). State changes go to ``report(state, **details)``:
connecting, streaming, stalled, reconnecting, stopped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from config.cameras import ResolvedPolicy
from config.errors import SourceError
from config.redact import redact_url
from ingest.sources import VideoSource, open_source
from workers.backoff import Backoff

log = logging.getLogger(__name__)
Reporter = Callable[..., None]


@dataclass
class Grabbed:
    frame: np.ndarray
    capture_time: float  # epoch seconds at decode: the camera's own timestamps are not trusted


class _Connection:
    def __init__(self, gen: int):
        self.gen = gen
        self.started = time.monotonic()
        self.opened: float | None = None  # monotonic time the source opened
        self.last_frame: float | None = None
        self.frames = 0
        self.error: str | None = None
        self.done = threading.Event()
        self.source: VideoSource | None = None


class LiveReader:
    def __init__(
        self,
        url: str,
        policy: ResolvedPolicy,
        report: Reporter,
        stop: threading.Event,
        opener: Callable[..., VideoSource] = open_source,
    ):
        self.url = url
        self.policy = policy
        self.report = report
        self.stop = stop
        self.opener = opener
        self.info: dict[str, float] = {}  # fps, width, height of the last open
        self.frames_read = 0
        self.overwritten = 0  # frames replaced by a newer one before anybody took them
        self.reconnects = 0
        self._gen = 0
        self._slot: Grabbed | None = None
        self._cond = threading.Condition()
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._captures: list[threading.Thread] = []  # connections' threads, abandoned ones too

    def start(self) -> LiveReader:
        self._watchdog.start()
        return self

    def join(self, timeout: float | None = None) -> None:
        """The watchdog, then every connection's thread. One may still be opening the source
        inside OpenCV (which ends within the open timeout): a process that exits meanwhile
        aborts ("terminate called without an active exception"), so give it that long."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self._watchdog.join(timeout)
        for thread in self._captures:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def take(self, timeout_s: float) -> Grabbed | None:
        """The newest frame not taken yet; None when none arrives within ``timeout_s``."""
        with self._cond:
            if self._slot is None:
                self._cond.wait(timeout_s)
            item, self._slot = self._slot, None
            return item

    # --- the watchdog ---------------------------------------------------------------------
    def _watch(self) -> None:
        p = self.policy
        backoff = Backoff(p.reconnect_initial_s, p.reconnect_max_s)
        state = "connecting"
        while not self.stop.is_set():
            self.report(state, attempt=backoff.attempts)
            self._gen += 1
            conn = _Connection(self._gen)
            capture = threading.Thread(
                target=self._connect, args=(conn,), name=f"capture-{conn.gen}", daemon=True
            )
            self._captures = [t for t in self._captures if t.is_alive()] + [capture]
            capture.start()
            reason = self._supervise(conn)
            self._gen += 1  # abandon it: a late frame of this connection is ignored
            if self.stop.is_set():
                break
            if conn.frames:
                backoff.reset()
            delay = backoff.next_delay()
            if reason.startswith("stalled"):
                self.report("stalled", reason=reason, frames=conn.frames)
            # the console hears of the first failure after streaming; repeats of a dead camera go
            # to the log at INFO (the state events still count every attempt)
            level = logging.WARNING if backoff.attempts == 1 else logging.INFO
            log.log(
                level,
                "camera source %s: %s; reconnecting in %.1f s (attempt %d)",
                redact_url(self.url),
                reason,
                delay,
                backoff.attempts,
            )
            self.reconnects += 1
            state = "reconnecting"
            self.stop.wait(delay)
        self.report("stopped")

    def _supervise(self, conn: _Connection) -> str:
        """Wait while the connection is healthy; return why it is not any more."""
        p = self.policy
        streaming = False
        while not self.stop.wait(0.05):
            now = time.monotonic()
            if conn.done.is_set():
                return conn.error or "stream ended"
            if conn.last_frame is not None and not streaming:
                streaming = True
                self.report("streaming", **self.info)
            if conn.opened is None:
                if now - conn.started > p.open_timeout_s + 1.0:
                    return f"stalled: not open after {now - conn.started:.1f} s"
                continue
            last = conn.last_frame if conn.last_frame is not None else conn.opened
            # before the first frame, the open timeout applies: an RTSP open can take a while
            limit = (
                p.stall_timeout_s
                if conn.last_frame is not None
                else max(p.stall_timeout_s, p.open_timeout_s)
            )
            if now - last > limit:
                return f"stalled: no frame for {now - last:.1f} s"
        return "stopped"

    # --- one connection (its own thread) ---------------------------------------------------
    def _connect(self, conn: _Connection) -> None:
        p = self.policy
        try:
            try:
                # the read timeout is a backstop for an abandoned thread; the watchdog decides stalls
                source = self.opener(
                    self.url,
                    open_timeout_s=p.open_timeout_s,
                    read_timeout_s=p.stall_timeout_s,
                    transport=p.rtsp_transport,
                    live=True,
                )
            except SourceError as exc:
                waited = time.monotonic() - conn.started
                conn.error = (
                    f"stalled: no answer within {waited:.1f} s"
                    if waited >= p.open_timeout_s * 0.9
                    else f"cannot open ({exc})"
                )
                return
            try:
                conn.opened = time.monotonic()
                if conn.gen == self._gen:
                    self.info = {"fps": source.fps, "width": source.width, "height": source.height}
                while not self.stop.is_set() and conn.gen == self._gen:
                    frame = source.read()
                    if frame is None:
                        conn.error = "read failed or stream ended"
                        return
                    conn.last_frame = time.monotonic()
                    conn.frames += 1
                    self._put(conn, Grabbed(frame, time.time()))
            finally:
                source.close()
        except Exception as exc:  # never let a capture thread die silently
            log.exception("camera source %s: capture thread failed", redact_url(self.url))
            conn.error = f"capture failed ({type(exc).__name__})"
        finally:
            conn.done.set()

    def _put(self, conn: _Connection, item: Grabbed) -> None:
        with self._cond:
            if conn.gen != self._gen:
                return
            self.frames_read += 1
            if self._slot is not None:
                self.overwritten += 1
            self._slot = item
            self._cond.notify()
