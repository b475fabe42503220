"""Keep the embedded servers a command started alive: a dead one is started again in place.

A SIGKILLed Valkey or milvus-lite (the OOM killer, a user's ``kill -9``) used to leave every
client retrying forever. Restarting it on the same port or socket, over the same data directory,
lets the clients reconnect by themselves: Valkey reloads its append-only file, milvus-lite its
collections (which clients load again after a failure). Restarts back off up to ``max_backoff_s``
so that a server that cannot start (a full disk, a port taken meanwhile) is not hammered.

``run`` and every other command that starts servers keep them with a :class:`ServerKeeper`
thread; under ``up`` the same check runs in a supervised program (facestream/keep_servers.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config.errors import StackError
from facestream.server_records import cmdline_matches
from facestream.servers import Server, pid_alive
from workers.backoff import Backoff

log = logging.getLogger(__name__)

CHECK_EVERY_S = 0.5
MAX_BACKOFF_S = 30.0
LABELS = {"redis": "Redis", "milvus": "Milvus (milvus-lite)"}
NEEDLES = {"redis": "-server", "milvus": "milvus"}  # in the command line of each kind


def server_alive(server: Server) -> bool:
    """Our child: its exit status (reaps it); another process's: its pid, guarded against reuse."""
    if server.proc is not None:
        return server.proc.poll() is None
    return pid_alive(server.pid) and cmdline_matches(server.pid, NEEDLES.get(server.name, ""))


@dataclass
class _Watched:
    server: Server
    backoff: Backoff = field(default_factory=lambda: Backoff(0.5, MAX_BACKOFF_S))
    retry_at: float = 0.0
    down_since: float | None = None
    said_failed: bool = False


class ServerKeeper:
    """Checks a set of servers; ``restart(server)`` brings a dead one back and returns it.

    ``notify`` gets one line per event that a user should see (a death and its restart, a
    restart that keeps failing); details go to the log at INFO, below the console's level.
    """

    def __init__(
        self,
        restart: Callable[[Server, threading.Event], Server],
        notify: Callable[[str], None] | None = None,
        max_backoff_s: float = MAX_BACKOFF_S,
    ):
        self._restart = restart
        self._notify = notify or (lambda line: log.warning("%s", line))
        self._max_backoff_s = max_backoff_s
        self._watched: dict[str, _Watched] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set: a restart in progress gives up at once
        self._thread: threading.Thread | None = None
        self.restarts = 0

    def watch(self, server: Server) -> None:
        with self._lock:
            self._watched[server.name] = _Watched(server, Backoff(0.5, self._max_backoff_s))

    def servers(self) -> list[Server]:
        with self._lock:
            return [w.server for w in self._watched.values()]

    def check(self) -> list[Server]:
        """One pass: restart what died and is due; the servers restarted in this pass."""
        restarted = []
        for name in [w.server.name for w in self._watched.values()]:
            if self.stopping.is_set():
                break
            with self._lock:
                watched = self._watched.get(name)
            if watched is None or server_alive(watched.server):
                continue
            now = time.monotonic()
            if watched.down_since is None:
                watched.down_since = now
                code = watched.server.proc.returncode if watched.server.proc else None
                log.info(
                    "embedded %s (pid %d) died%s: restarting it at %s",
                    name,
                    watched.server.pid,
                    f" with status {code}" if code is not None else "",
                    watched.server.url,
                )
            if now < watched.retry_at:
                continue
            fresh = self._restart_one(watched)
            if fresh is not None:
                restarted.append(fresh)
        return restarted

    def _restart_one(self, watched: _Watched) -> Server | None:
        label = LABELS.get(watched.server.name, watched.server.name)
        try:
            fresh = self._restart(watched.server, self.stopping)
        except StackError as exc:
            if self.stopping.is_set():
                return None
            delay = watched.backoff.next_delay()
            watched.retry_at = time.monotonic() + delay
            log.info("restarting embedded %s failed: %s; again in %.1f s", label, exc, delay)
            if not watched.said_failed:
                watched.said_failed = True
                self._notify(
                    f"embedded {label} died and could not be restarted yet ({exc}); "
                    f"retrying every {self._max_backoff_s:.0f} s at most"
                )
            return None
        down_s = time.monotonic() - (watched.down_since or time.monotonic())
        with self._lock:
            self._watched[fresh.name] = _Watched(fresh, Backoff(0.5, self._max_backoff_s))
        self.restarts += 1
        log.info(
            "embedded %s restarted (pid %d) at %s after %.1f s", label, fresh.pid, fresh.url, down_s
        )
        self._notify(f"embedded {label} died; restarted (down {down_s:.1f} s)")
        return fresh

    # --- as a thread (run, watch, enroll, ...) ----------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="server-keeper", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop checking; a restart in progress gives up (and stops what it started)."""
        self.stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self.stopping.wait(CHECK_EVERY_S):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the keeper must outlive any one failed pass
                log.exception("checking the embedded servers failed")
