"""Video sources through OpenCV (FFmpeg backend): files, RTSP/HTTP URLs, webcams by index."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass

import cv2
import numpy as np

from config.errors import SourceError

log = logging.getLogger(__name__)
LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "udp://", "tcp://")
_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")


def redact(url: str) -> str:
    """The URL with any user:password@ removed: credentials are never logged or stored."""
    return _CREDENTIALS.sub("***@", url)


def is_live(url: str) -> bool:
    return url.isdigit() or url.lower().startswith(LIVE_SCHEMES)


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
        """Next BGR frame, or None at the end of a file / when a live read fails."""
        ok, frame = self.capture.read()
        return frame if ok and frame is not None else None

    def close(self) -> None:
        self.capture.release()


def open_source(url: str, open_timeout_s: float = 10.0, read_timeout_s: float = 10.0) -> VideoSource:
    live = is_live(url)
    if url.isdigit():
        capture = cv2.VideoCapture(int(url))
    else:
        if "://" not in url and not os.path.exists(url):
            raise SourceError(f"source {url!r}: no such file")
        if live and url.lower().startswith("rtsp") and "OPENCV_FFMPEG_CAPTURE_OPTIONS" not in os.environ:
            os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "rtsp_transport;tcp"  # TCP: no smeared frames from UDP loss
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(read_timeout_s * 1000)]
        started = time.monotonic()
        capture = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
        log.debug("opened %s in %.2f s", redact(url), time.monotonic() - started)
    if not capture.isOpened():
        raise SourceError(f"source {redact(url)!r}: cannot open (not a video, unreachable, or unsupported)")
    fps = capture.get(cv2.CAP_PROP_FPS) or 0.0
    if not 0.5 <= fps <= 240:
        fps = 25.0  # some streams report 0 or 90000: assume a common rate for timestamps
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    return VideoSource(
        url=url, capture=capture, fps=fps,
        width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        frame_count=0 if live else max(count, 0), live=live,
    )
