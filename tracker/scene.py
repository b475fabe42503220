"""Shot cuts: a track must never continue across a cut in edited video.

After a cut, a different face often sits where the last one was, and IoU alone
would carry the old track -- and its name -- onto the new person. The detector
sends a small colour histogram of each frame; a Bhattacharyya distance above a
threshold between consecutive processed frames ends every track. Measured on
../shared/media: real cuts 0.37-0.44, everything else below 0.09.
"""

from __future__ import annotations

import numpy as np


def histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two histograms (0 = identical, 1 = disjoint)."""
    a = a / max(float(a.sum()), 1e-12)
    b = b / max(float(b.sum()), 1e-12)
    coefficient = float(np.sqrt(a * b).sum())
    return float(np.sqrt(max(0.0, 1.0 - coefficient)))


class CutDetector:
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
