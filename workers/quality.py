"""Sharpness of faces from pixels: measured by the detector (it has the pixels) for the tracker's
best-shot choice (tracker/quality.py)."""

from __future__ import annotations

import cv2
import numpy as np

SIDE_PX = 64  # faces are compared at one scale, so a big face is not 'sharper' for being big


def sharpness(rgb: np.ndarray, xyxy: np.ndarray) -> np.ndarray:
    """Variance of the Laplacian of each face box, resampled to ``SIDE_PX`` square; 0 for empty boxes."""
    h, w = rgb.shape[:2]
    out = np.zeros(len(xyxy), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(np.asarray(xyxy, np.float64)):
        x1, y1 = int(max(0, np.floor(x1))), int(max(0, np.floor(y1)))
        x2, y2 = int(min(w, np.ceil(x2))), int(min(h, np.ceil(y2)))
        if x2 - x1 < 4 or y2 - y1 < 4:
            continue
        gray = cv2.cvtColor(np.ascontiguousarray(rgb[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
        gray = cv2.resize(gray, (SIDE_PX, SIDE_PX), interpolation=cv2.INTER_AREA)
        out[i] = float(cv2.Laplacian(gray, cv2.CV_32F).var())
    return out


def chip_sharpness(chips: list[np.ndarray], boxes_in_chips: np.ndarray) -> np.ndarray:
    """``sharpness`` of one face per chip, its box given in chip coordinates."""
    out = np.zeros(len(chips), np.float32)
    for i, (chip, box) in enumerate(zip(chips, boxes_in_chips, strict=True)):
        out[i] = sharpness(chip, box[None])[0]
    return out
