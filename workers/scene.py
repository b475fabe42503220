"""Shot cuts: a track must never continue across a cut in edited video.

After a cut, a different face often sits where the last one was, and IoU alone
would carry the old track -- and its name -- onto the new person. Every frame
gets a small colour histogram (``scene_histogram``); a Bhattacharyya distance
above a threshold between consecutive frames is a cut. Measured on
../shared/media: real cuts 0.37-0.44, everything else below 0.09.

The grabber, which sees every frame in order, sends the histogram and its
``cut`` flag with each frame, so that with ``detect_every_n > 1`` the frames
detected, and hence the results, are the same for 1 or N detector processes;
the tracker ends every track at a cut between the frames it processes.
"""

from __future__ import annotations

import cv2
import numpy as np


def scene_histogram(image: np.ndarray, rgb: bool = False) -> np.ndarray:
    """128-bin HSV histogram of a thumbnail (OpenCV's BGR unless ``rgb``): cheap, and enough to
    see a cut."""
    small = cv2.resize(image, (160, 90), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV if rgb else cv2.COLOR_BGR2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).reshape(-1)
    return (hist / max(float(hist.sum()), 1.0)).astype(np.float32)


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms (0 = identical, 1 = disjoint)."""
    a = a / max(float(a.sum()), 1e-12)
    b = b / max(float(b.sum()), 1e-12)
    coefficient = float(np.sqrt(a * b).sum())
    return float(np.sqrt(max(0.0, 1.0 - coefficient)))


class CutDetector:
    """Histogram of the previous frame -> is this one a cut? The first frame is not, nor is a frame
    without a histogram or one whose histogram has another shape than the previous one."""

    def __init__(self, threshold: float = 0.25):
        self.threshold = threshold
        self._previous: np.ndarray | None = None
        self.cuts = 0

    def is_cut(self, histogram: np.ndarray | None) -> bool:
        if histogram is None or len(histogram) == 0:
            return False
        previous, self._previous = self._previous, histogram
        if previous is None or previous.shape != histogram.shape:
            return False
        cut = histogram_distance(previous, histogram) > self.threshold
        self.cuts += cut
        return cut

    def reset(self) -> None:
        self._previous = None
