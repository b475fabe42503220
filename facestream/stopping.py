"""How every long-lived command stops: SIGINT and SIGTERM alike, warm first, then at once.

The first signal only sets a flag that the command's loop reads: an exception
raised at an arbitrary point of the main thread (Python's default for SIGINT)
can leave a lock of the logging or Redis client taken, and the grabber threads
then wait on it forever. The second signal raises KeyboardInterrupt: the user
(or the service manager) asked twice, so what is in flight is given up.

Before a command enters its ``StopRequest`` (servers starting, models loading)
both signals abort at once (facestream/cli.py); afterwards the command stops
what it started itself: its grabbers, its worker processes, its servers.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any


class StopRequest:
    """SIGINT/SIGTERM while a command runs: the first asks for a warm stop, the second aborts.

    ``on_request`` is called in the signal handler on the first signal: it may set a flag of its
    own (a worker's ``stopping``), nothing that takes a lock -- not even a log call.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, on_request: Callable[[], None] | None = None) -> None:
        self.requested = False
        self._on_request = on_request
        self._previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}

    def __enter__(self) -> StopRequest:
        # signal handlers live in the main thread; elsewhere (tests) the flag is set by hand
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, _signum: int, _frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        # a plain flag: setting an Event here could wait on a lock the main thread holds
        self.requested = True
        if self._on_request is not None:
            self._on_request()

    def wait(
        self, seconds: float, until: Callable[[], bool] = lambda: False, step_s: float = 0.1
    ) -> bool:
        """Sleep up to ``seconds`` in short steps; True as soon as a stop is requested or
        ``until()`` holds."""
        deadline = time.monotonic() + seconds
        while not (self.requested or until()):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(step_s, left))
        return True
