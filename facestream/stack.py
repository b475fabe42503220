"""The embedded stack: a private Redis (Valkey) and milvus-lite under the data dir.

External URLs in the settings are passed through untouched; otherwise a server
that another facestream process already runs for the same data dir is reused
(``<data_dir>/stack/{redis,milvus}.json``), else one is started. A file lock
makes the check-and-start atomic across processes. An instance stops only the
servers it started itself, and keeps them alive meanwhile: one that dies is started
again on the same port or socket over the same data (facestream/keeper.py).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from config.errors import StackError
from config.redact import redact_url, register
from config.settings import Settings
from facestream import server_records, servers
from facestream.keeper import ServerKeeper
from facestream.private import private_dir, secure_data_dir
from facestream.servers import Server

log = logging.getLogger(__name__)

REUSE_WAIT_S = 5.0


@dataclass(frozen=True)
class Endpoints:
    redis_url: str
    milvus_uri: str


def with_password(url: str, password: str) -> str:
    """``redis://host:port/db`` -> ``redis://:password@host:port/db`` (registered as a secret)."""
    register(password)
    scheme, rest = url.split("://", 1)
    return f"{scheme}://:{quote(password, safe='')}@{rest}"


class EmbeddedStack:
    """Context manager: ``with EmbeddedStack(settings) as ep:`` gives :class:`Endpoints`."""

    def __init__(
        self,
        settings: Settings,
        start_servers: bool = True,
        notify: Callable[[str], None] | None = None,
        milvus_later: bool = False,
    ):
        self._settings = settings
        # True (`run`): start() returns once Redis answers while a milvus-lite it starts comes up
        # in the background (~2 s, the workers' imports and model loads overlap it); the caller
        # calls wait_milvus() before anything searches
        self._milvus_later = milvus_later
        self._milvus_pending: tuple[Future[str], ExitStack] | None = None
        self._start_servers = (
            start_servers  # False: only use servers that already run (status, check, down)
        )
        self._notify = notify  # a line for the user when a server it started died (or the log)
        self._keeper: ServerKeeper | None = None
        self._data_dir = Path(settings.data_dir).expanduser().resolve()
        self._stack_dir = self._data_dir / "stack"
        self._started: list[Server] = []
        self._endpoints: Endpoints | None = None

    def __enter__(self) -> Endpoints:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def started(self) -> tuple[Server, ...]:
        """The servers this instance started (and will stop)."""
        return tuple(self._started)

    def start(self) -> Endpoints:
        if self._endpoints is not None:
            return self._endpoints
        secure_data_dir(self._data_dir)
        redis_url, milvus_uri = self._settings.redis_url, self._settings.milvus_uri
        if redis_url:
            log.info("using external Redis at %s", redact_url(redis_url))
        if milvus_uri:
            log.info("using external Milvus at %s", redact_url(milvus_uri))
        if not (redis_url and milvus_uri):
            # the lock and the thread outlive this block when milvus-lite is left to come up
            held = ExitStack()
            try:
                held.enter_context(self._lock())
                # side by side: milvus-lite's seconds of start-up overlap Redis's
                pool = held.enter_context(ThreadPoolExecutor(1, "start-milvus"))
                milvus = None
                if not milvus_uri:
                    milvus = pool.submit(
                        self._ensure,
                        "milvus",
                        servers.start_milvus,
                        "milvus",
                        servers.milvus_answers,
                    )
                if not redis_url:
                    password = servers.redis_password(self._data_dir)
                    redis_url = with_password(
                        self._ensure(
                            "redis",
                            servers.start_redis,
                            "-server",
                            lambda s: servers.redis_answers(s, password),
                        ),
                        password,
                    )
                if milvus is not None and self._milvus_later:
                    self._milvus_pending = (milvus, held.pop_all())
                    milvus_uri = servers.milvus_socket_url(self._data_dir)
                else:
                    milvus_uri = milvus_uri or milvus.result()  # type: ignore[union-attr]
            except BaseException:
                held.close()
                self.stop()
                raise
            held.close()
        if self._milvus_pending is None:
            self._keep()
        self._endpoints = Endpoints(redis_url=redis_url, milvus_uri=milvus_uri)
        return self._endpoints

    def wait_milvus(self) -> None:
        """With ``milvus_later``: return once the embedded Milvus answers, or raise StackError."""
        if self._milvus_pending is None:
            return
        pending, held = self._milvus_pending
        self._milvus_pending = None
        try:
            url = pending.result()
        finally:
            held.close()
        expected = self._endpoints.milvus_uri if self._endpoints else None
        if url != expected:  # a recorded server on a TCP port: the workers were told the socket
            raise StackError(
                f"embedded milvus answers at {url}, expected {expected}; stop it "
                f"(`facestream down`) or set an external URL"
            )
        self._keep()

    def _keep(self) -> None:
        """Watch the servers this instance started: one that dies is started again."""
        if self._started:
            self._keeper = ServerKeeper(self.restart, self._notify)
            for server in self._started:
                self._keeper.watch(server)
            self._keeper.start()

    def restart(self, server: Server, cancel: threading.Event | None = None) -> Server:
        """Start a dead server again where it was: same data, same port (Redis) or socket."""
        start = servers.start_redis if server.name == "redis" else servers.start_milvus
        with self._lock():
            fresh = start(self._data_dir, port=server.port or None, cancel=cancel)
            path = self._record_path(server.name)
            server_records.save_record(path, fresh, server_records.load_owner(path))
        self._started = [fresh if s.name == fresh.name else s for s in self._started]
        return fresh

    def _stop_keeper(self) -> None:
        if self._keeper is not None:
            self._keeper.stop()
            self._keeper = None

    def detach(self) -> None:
        """Leave the servers this instance started running after it exits (``facestream up``,
        where the supervised ``facestream.keep_servers`` looks after them)."""
        self._stop_keeper()
        with self._lock():
            for server in self._started:  # nobody's now: no later command adopts them
                server_records.save_record(self._record_path(server.name), server, None)
        self._started.clear()

    def stop_recorded(self) -> list[str]:
        """Stop the embedded servers recorded for this data dir, whoever started them (``facestream down``)."""
        stopped = []
        with self._lock():
            for name, needle in (("milvus", "milvus"), ("redis", "-server")):
                record = self._record_path(name)
                server = server_records.load_record(record)
                if (
                    server is not None
                    and servers.pid_alive(server.pid)
                    and server_records.cmdline_matches(server.pid, needle)
                ):
                    log.info("stopping %s (pid %d)", name, server.pid)
                    servers.stop(server)
                    stopped.append(name)
                record.unlink(missing_ok=True)
        return stopped

    def stop(self) -> None:
        self._stop_keeper()  # first: a server must not be restarted while it is being stopped
        if self._milvus_pending is not None:  # let it finish (it holds the lock), then stop it
            pending, held = self._milvus_pending
            self._milvus_pending = None
            pending.exception()
            held.close()
        if not self._started:
            self._endpoints = None
            return
        with self._lock():
            while self._started:
                server = self._started.pop()
                log.info("stopping %s (pid %d, %s)", server.name, server.pid, server.url)
                servers.stop(server)
                record = self._record_path(server.name)
                current = server_records.load_record(record)
                if current is not None and current.pid == server.pid:
                    record.unlink(missing_ok=True)
        self._endpoints = None

    # --- internals ---------------------------------------------------------

    def _record_path(self, name: str) -> Path:
        return self._stack_dir / f"{name}.json"

    @contextmanager
    def _lock(self) -> Iterator[None]:
        private_dir(self._stack_dir)
        with open(self._stack_dir / "lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _adopt_orphan(self, record_path: Path, server: Server) -> None:
        """A server whose owner died without stopping it (a SIGKILLed `run`) is taken over: kept
        alive by this instance and stopped when it exits, as if it had started it. Caller holds
        the lock."""
        owner = server_records.load_owner(record_path)
        if not self._start_servers or owner is None or servers.pid_alive(owner):
            return
        log.info(
            "adopting embedded %s (pid %d): the command that started it (pid %d) is gone",
            server.name,
            server.pid,
            owner,
        )
        self._started.append(server)
        server_records.save_record(record_path, server, os.getpid())

    def _ensure(
        self,
        name: str,
        start: Callable[[Path], Server],
        needle: str,
        ready: Callable[[Server], bool],
    ) -> str:
        """Reuse the recorded server when it is alive and answers; else start one. Caller holds the lock."""
        record_path = self._record_path(name)
        recorded = server_records.load_record(record_path)
        if (
            recorded is not None
            and servers.pid_alive(recorded.pid)
            and server_records.cmdline_matches(recorded.pid, needle)
        ):
            deadline = time.monotonic() + REUSE_WAIT_S
            while True:
                if ready(recorded):
                    log.info(
                        "reusing embedded %s (pid %d) at %s for %s",
                        name,
                        recorded.pid,
                        recorded.url,
                        self._data_dir,
                    )
                    self._adopt_orphan(record_path, recorded)
                    return recorded.url
                if time.monotonic() >= deadline:
                    raise StackError(
                        f"embedded {name} pid {recorded.pid} (recorded in {record_path}) is running but does "
                        f"not answer at {recorded.url}; stop that process or set an external URL"
                    )
                time.sleep(0.2)
        if not self._start_servers:
            raise StackError(
                f"no embedded {name} is running for {self._data_dir} (start one with "
                f"`facestream up`, or give --redis-url/--milvus-uri)"
            )
        if recorded is not None:
            log.info(
                "stale %s record %s (pid %d gone); starting a new server",
                name,
                record_path,
                recorded.pid,
            )
        server = start(self._data_dir)
        self._started.append(server)
        server_records.save_record(record_path, server, os.getpid())
        log.info(
            "started embedded %s (pid %d) at %s, data in %s, log in %s",
            name,
            server.pid,
            server.url,
            self._data_dir / name,
            self._data_dir / "logs" / f"{name}.log",
        )
        return server.url
