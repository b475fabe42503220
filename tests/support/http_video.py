"""Real HTTP cameras for tests: an MJPEG stream (multipart/x-mixed-replace, as IP cameras serve it) and
an HLS playlist of MPEG-TS segments (cut by GStreamer's hlssink2), both served on 127.0.0.1."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2

from tests.support.rtsp import free_port

BOUNDARY = "facestreamframe"


def hls_available() -> bool:
    if not shutil.which("gst-launch-1.0"):
        return False
    probe = subprocess.run(
        ["gst-inspect-1.0", "hlssink2"], capture_output=True, stdin=subprocess.DEVNULL, timeout=60
    )
    return probe.returncode == 0


class _Server:
    """A ThreadingHTTPServer that can be killed (connections cut) and started again on the same port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.httpd: ThreadingHTTPServer | None = None
        self.stopping = threading.Event()
        self.requests = 0

    def serve(self, request: SimpleHTTPRequestHandler) -> None:
        """Answer one GET."""
        raise NotImplementedError

    def start(self) -> _Server:
        self.stopping.clear()
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                server.requests += 1
                server.serve(self)

        ThreadingHTTPServer.allow_reuse_address = True
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def kill(self) -> None:
        """Like a camera losing power: the listening socket and every open stream go away."""
        self.stopping.set()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()


class MjpegServer(_Server):
    """``video``'s first ``frames`` frames as JPEGs, looped at ``fps`` on http://127.0.0.1:PORT/video.mjpg."""

    def __init__(self, video: Path, fps: float = 15.0, frames: int = 120, port: int | None = None):
        super().__init__(port)
        self.fps = fps
        cap = cv2.VideoCapture(str(video))
        self.jpegs: list[bytes] = []
        while len(self.jpegs) < frames:
            ok, frame = cap.read()
            if not ok:
                break
            self.jpegs.append(
                cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()
            )
        cap.release()
        if not self.jpegs:
            raise RuntimeError(f"no frame in {video}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def serve(self, request: SimpleHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        request.send_header("Cache-Control", "no-cache")
        request.end_headers()
        start, k = time.monotonic(), 0
        try:
            while not self.stopping.is_set():
                jpeg = self.jpegs[k % len(self.jpegs)]
                request.wfile.write(
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                k += 1
                time.sleep(max(0.0, start + k / self.fps - time.monotonic()))
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            return  # the viewer went away


class HlsServer(_Server):
    """``video`` cut into 2 s MPEG-TS segments and an HLS playlist, served at http://127.0.0.1:PORT/live.m3u8.

    The playlist ends (EXT-X-ENDLIST): a live reader reaches its end and connects again, as with a
    camera's rolling playlist that restarts."""

    def __init__(self, video: Path, directory: Path, port: int | None = None):
        super().__init__(port)
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        pipeline = (
            f"filesrc location={video} ! qtdemux ! h264parse ! hlssink2 target-duration=2 "
            f"max-files=0 playlist-length=0 location={directory}/seg%05d.ts "
            f"playlist-location={directory}/live.m3u8"
        )
        # well under a second; once seen hanging (in a run with an RTSP server up): bounded and retried
        for _ in range(3):
            try:
                done = subprocess.run(
                    ["gst-launch-1.0", "-q", *pipeline.split()],
                    capture_output=True,
                    text=True,
                    stdin=subprocess.DEVNULL,
                    timeout=30,
                )
            except subprocess.TimeoutExpired:
                continue
            if done.returncode == 0 and (directory / "live.m3u8").exists():
                return
        raise RuntimeError(f"hlssink2 did not cut {video} into an HLS playlist in 3 attempts")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/live.m3u8"

    def serve(self, request: SimpleHTTPRequestHandler) -> None:
        request.directory = str(self.directory)  # SimpleHTTPRequestHandler serves files below this
        SimpleHTTPRequestHandler.do_GET(request)
