"""Detector stage: frames -> faces with landmarks and face chips (the frame JPEG stops here)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from config.errors import ImageError
from tracker.faces import Faces
from workers import keys
from workers.messages import FrameMsg
from workers.models.chips import decode_jpeg, encode_jpeg, make_chips
from workers.runtime import Output

log = logging.getLogger(__name__)


class Detector(Protocol):
    def detect(self, rgb: np.ndarray) -> Faces: ...


def scene_histogram(rgb: np.ndarray) -> np.ndarray:
    """128-bin HSV histogram of a thumbnail: cheap, and enough to see a shot cut."""
    small = cv2.resize(rgb, (160, 90), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
    return (hist / max(float(hist.sum()), 1.0)).astype(np.float32)


class DetectHandler:
    kind = "detect"
    group = keys.GROUP_DETECT

    def __init__(self, detector: Detector, cameras: Callable[[], list[str]], jpeg_quality: int = 90):
        self.detector = detector
        self.cameras = cameras  # the set of cameras changes while we run
        self.jpeg_quality = jpeg_quality

    def input_streams(self) -> list[str]:
        return [keys.frames(c) for c in sorted(self.cameras())]

    def stale(self, msg: FrameMsg) -> FrameMsg:
        """A live frame older than its max_age: not worth detecting any more; it still flows on, counted."""
        return msg.evolve(jpeg=None, dropped="stale")

    def handle(self, msg: FrameMsg) -> list[Output]:
        if msg.kind == "eos" or msg.dropped:
            return [(keys.DETECTED, msg.evolve(jpeg=None))]
        try:
            rgb = decode_jpeg(msg.jpeg or b"")
        except ImageError as exc:
            # a corrupt frame is accounted for downstream, never silently lost
            log.warning("camera %s frame %d: %s", msg.camera, msg.seq, exc)
            return [(keys.DETECTED, msg.evolve(jpeg=None, dropped="corrupt_frame"))]
        faces = self.detector.detect(rgb)
        chips, origin, scale = make_chips(rgb, faces)
        return [(keys.DETECTED, msg.evolve(
            jpeg=None,
            scene=scene_histogram(rgb),
            faces=faces,
            embed_idx=tuple(range(len(faces))),
            chips=tuple(encode_jpeg(c, self.jpeg_quality) for c in chips),
            chip_origin=origin,
            chip_scale=scale,
        ))]
