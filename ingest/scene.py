"""Shot cuts, seen where every frame passes in order: the grabber.

Each published frame carries a small colour histogram (``scene``) and ``cut``:
whether it differs from the previous published frame by more than the
threshold. Detector processes read the flag instead of comparing against the
last frame *they* happened to get, so with ``detect_every_n > 1`` the frames
detected, and hence the results, are the same for 1 or N detector processes.
"""

from __future__ import annotations

import cv2
import numpy as np

from tracker.scene import histogram_distance


def scene_histogram(image: np.ndarray, rgb: bool = False) -> np.ndarray:
    """128-bin HSV histogram of a thumbnail (OpenCV's BGR unless ``rgb``): cheap, and enough to see a cut."""
    small = cv2.resize(image, (160, 90), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV if rgb else cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
    return (hist / max(float(hist.sum()), 1.0)).astype(np.float32)


class CutCheck:
    """Histogram of the previous frame -> is this one a cut? (The first frame is not.)"""

    def __init__(self, threshold: float):
        self.threshold = threshold
        self._previous: np.ndarray | None = None

    def __call__(self, scene: np.ndarray) -> bool:
        previous, self._previous = self._previous, scene
        return previous is not None and histogram_distance(previous, scene) > self.threshold

    def reset(self) -> None:
        self._previous = None
