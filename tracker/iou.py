"""Pairwise intersection-over-union of two sets of ``xyxy`` boxes."""

from __future__ import annotations

import numpy as np

from config.errors import MessageError


def _boxes(name: str, boxes: np.ndarray) -> np.ndarray:
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MessageError(f"iou_matrix.{name}: expected shape (N, 4), got {tuple(arr.shape)}")
    return arr


def _area(boxes: np.ndarray) -> np.ndarray:
    wh = np.clip(boxes[:, 2:] - boxes[:, :2], 0, None)
    return wh[:, 0] * wh[:, 1]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` IoU of every box in ``a`` with every box in ``b``.

    Empty inputs give ``(N, 0)`` / ``(0, M)`` arrays so that callers need no special
    case; degenerate (zero-area) pairs give 0, never NaN.
    """
    a, b = _boxes("a", a), _boxes("b", b)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = _area(a)[:, None] + _area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
