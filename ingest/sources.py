"""Video sources through OpenCV (FFmpeg backend): files, RTSP, HTTP/MJPEG, HLS, webcams by index.

Every open has an open timeout and every read a read timeout (FFmpeg's
interrupt callback, via ``CAP_PROP_OPEN_TIMEOUT_MSEC``/``CAP_PROP_READ_TIMEOUT_MSEC``),
so a camera that stops answering makes ``read`` return None instead of hanging.
Credentials in URLs are never logged or stored: everything shown goes through
:func:`config.redact.redact_url`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import cv2
import numpy as np

from config.errors import SourceError
from config.redact import redact_url

log = logging.getLogger(__name__)
LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://", "srt://")
HTTP_SCHEMES = ("http://", "https://")
# an http(s) URL ending in one of these is a file served over HTTP (finite, lossless); anything else is live
FILE_SUFFIXES = (
    ".mp4",
    ".mkv",
    ".avi",
    ".mov",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".ts",
    ".flv",
    ".wmv",
)
_FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_open_lock = threading.Lock()  # the FFmpeg options are a process-wide variable read at open time


def is_live(url: str) -> bool:
    """Webcams, RTSP/RTMP/UDP/SRT, HLS playlists and HTTP streams are live; files and http(s) video files are not."""
    low = url.lower()
    if url.isdigit() or low.startswith(LIVE_SCHEMES):
        return True
    if low.startswith(HTTP_SCHEMES):
        path = urlsplit(low).path
        return path.endswith(".m3u8") or not path.endswith(FILE_SUFFIXES)
    return False


@dataclass
class VideoSource:
    url: str
    capture: cv2.VideoCapture
    fps: float
    width: int
    height: int
    frame_count: int  # 0 when unknown (live)
    live: bool

    def read(self) -> np.ndarray | None:
        """Next BGR frame, or None at the end of a file / when a live read fails or times out."""
        try:
            ok, frame = self.capture.read()
        except (
            cv2.error
        ) as exc:  # a corrupt stream can make the decoder raise instead of returning False
            log.warning("read failed on %s: %s", redact_url(self.url), exc)
            return None
        return frame if ok and frame is not None else None

    def close(self) -> None:
        self.capture.release()


def ffmpeg_options(url: str, transport: str) -> str:
    if url.lower().startswith(("rtsp://", "rtsps://")):
        return f"rtsp_transport;{transport}"  # TCP by default: no smeared frames from UDP loss
    return ""


def open_source(
    url: str,
    open_timeout_s: float = 10.0,
    read_timeout_s: float = 10.0,
    transport: str = "tcp",
    live: bool | None = None,
) -> VideoSource:
    """Open a source; SourceError (credentials removed) when it cannot be opened within ``open_timeout_s``."""
    live = is_live(url) if live is None else live
    started = time.monotonic()
    if url.isdigit():
        capture = cv2.VideoCapture(int(url))
    else:
        if "://" not in url and not os.path.exists(url):
            raise SourceError(f"source {url!r}: no such file")
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(read_timeout_s * 1000),
        ]
        with _open_lock:
            saved = os.environ.get(_FFMPEG_OPTIONS)
            options = saved if saved is not None else ffmpeg_options(url, transport)
            os.environ[_FFMPEG_OPTIONS] = options
            try:
                capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
            finally:
                if saved is None:
                    os.environ.pop(_FFMPEG_OPTIONS, None)
    if not capture.isOpened():
        capture.release()
        raise SourceError(
            f"source {redact_url(url)!r}: cannot open within {open_timeout_s:.0f} s "
            "(unreachable, not a video, or unsupported)"
        )
    log.debug("opened %s in %.2f s", redact_url(url), time.monotonic() - started)
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    if not 0.5 <= fps <= 240:
        fps = 25.0  # some streams report 0 or 90000: assume a common rate for timestamps
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return VideoSource(
        url=url,
        capture=capture,
        fps=fps,
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
        height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        frame_count=0 if live else max(count, 0),
        live=live,
    )
