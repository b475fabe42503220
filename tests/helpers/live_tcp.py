"""A live source for tests: a clip looped at its frame rate as MPEG-TS over ``tcp://`` (PyAV).

``facestream`` treats ``tcp://`` URLs as live (drop-oldest, wall-clock timestamps).
Each accepted connection gets the clip from its start, looped, paced at real time,
until ``stop()``. It runs in a child process: PyAV holds the GIL while it waits in
``listen``, which would stall the test's own threads.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av


class LiveTcpSource:
    def __init__(self, clip: Path, width: int = 320, fps: float | None = None):
        self.clip = Path(clip)
        self.width = width
        self.fps = fps  # None: the clip's own rate; lower: every n-th frame, at that rate
        self.port = _free_port()
        self.url = f"tcp://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LiveTcpSource:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                str(self.clip),
                str(self.port),
                str(self.width),
                str(self.fps or 0),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while not self.listening():
            if time.monotonic() > deadline or self._proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"live test source did not listen on {self.url}")
            time.sleep(0.1)
        return self

    def listening(self) -> bool:
        """Whether the port is in LISTEN state (read from /proc: a probe connection would use it up)."""
        needle = f":{self.port:04X} 00000000:0000 0A"
        return any(needle in line for line in Path("/proc/net/tcp").read_text().splitlines())

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=10)

    def _serve(self) -> None:
        while True:
            try:
                self._one_connection()
            except (av.error.FFmpegError, OSError, BrokenPipeError):
                time.sleep(0.1)  # the client went away: listen again

    def _one_connection(self) -> None:
        if not hasattr(self, "_frames"):
            with av.open(str(self.clip)) as src:
                self._rate = src.streams.video[0].average_rate or 25
                self._frames = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
        rate, frames = self._rate, self._frames
        if self.fps:
            step = max(1, round(float(rate) / self.fps))
            rate, frames = Fraction(self.fps).limit_denominator(1000), frames[::step]
        out = av.open(f"tcp://127.0.0.1:{self.port}?listen=1", mode="w", format="mpegts")
        try:
            h, w = frames[0].shape[:2]
            height = int(round(h * self.width / w / 2) * 2)
            stream = out.add_stream("mpeg4", rate=rate)
            stream.width, stream.height, stream.pix_fmt = self.width, height, "yuv420p"
            started, n = time.monotonic(), 0
            while True:
                frame = av.VideoFrame.from_ndarray(
                    frames[n % len(frames)], format="rgb24"
                ).reformat(width=self.width, height=height)
                for packet in stream.encode(frame):
                    out.mux(packet)
                n += 1
                delay = started + n / float(rate) - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        finally:
            try:
                out.close()
            except (av.error.FFmpegError, OSError):
                pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    server = LiveTcpSource(Path(sys.argv[1]), int(sys.argv[3]), float(sys.argv[4]) or None)
    server.port = int(sys.argv[2])
    server._serve()
