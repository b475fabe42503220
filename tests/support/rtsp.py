"""Start and stop the real RTSP server (tests/support/rtsp_server.py under the system Python) from tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def gst_rtsp_available() -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = (
        "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import Gst, GstRtspServer; "
        "Gst.init(None); assert all(Gst.ElementFactory.find(e) for e in "
        "('intervideosrc', 'x264enc', 'rtph264pay', 'decodebin', 'qtdemux'))"
    )
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RtspServer:
    """``video`` played live and looped at rtsp://127.0.0.1:PORT/cam; ``kill()`` then ``start()`` again."""

    def __init__(
        self,
        video: Path,
        port: int | None = None,
        log_path: Path | None = None,
        user: str | None = None,
        password: str | None = None,
    ):
        self.video = video
        self.auth = ["--user", user, "--password", password or ""] if user else []
        self.port = port or free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        creds = f"{self.auth[1]}:{self.auth[3]}@" if self.auth else ""
        return f"rtsp://{creds}127.0.0.1:{self.port}/cam"

    def start(self, timeout_s: float = 30.0) -> RtspServer:
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [SYSTEM_PYTHON, str(SERVER), str(self.video), "--port", str(self.port), *self.auth],
            stdout=subprocess.PIPE,
            stderr=out,
            start_new_session=True,
        )
        ready = threading.Event()
        threading.Thread(
            target=lambda: (self.proc.stdout.readline(), ready.set()), daemon=True
        ).start()
        if not ready.wait(timeout_s) or self.proc.poll() is not None:
            self.kill()
            raise RuntimeError(f"RTSP server did not start on port {self.port}")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


class SilentServer:
    """Accepts TCP connections and never sends a byte: a camera that is 'up' but sends no frame."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}/cam"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._conns.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
        for c in self._conns:
            c.close()


def wait_for(predicate, timeout_s: float, interval_s: float = 0.2):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    return predicate()
