"""Constant-velocity Kalman filter on one face box, driven by wall time.

State ``(cx, cy, w, h, vcx, vcy, vw, vh)``; velocities are per SECOND, not per
frame, so a camera that drops or skips frames (or a file sampled every n-th
frame) yields the same motion model. Noise is proportional to the box size:
a 400 px face jitters and moves more pixels than a 40 px one.
"""

from __future__ import annotations

import logging

import numpy as np

from config.errors import MessageError

logger = logging.getLogger(__name__)

_MIN_SIDE = 1e-3  # a box never shrinks below this; keeps the size-scaled noise positive
_H = np.hstack([np.eye(4), np.zeros((4, 4))])  # we observe the box, never its velocity


def _to_state(xyxy: np.ndarray) -> np.ndarray:
    box = np.asarray(xyxy, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise MessageError(f"box: expected 4 finite numbers x1, y1, x2, y2, got {box.tolist()}")
    x1, y1, x2, y2 = box
    if x2 < x1 or y2 < y1:
        raise MessageError(f"box: expected x2 >= x1 and y2 >= y1, got {box.tolist()}")
    return np.array(
        [(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, _MIN_SIDE), max(y2 - y1, _MIN_SIDE)]
    )


def _size(z: np.ndarray) -> float:
    """Geometric mean side: one scale for all four coordinates, robust to thin boxes."""
    return float(np.sqrt(max(z[2], _MIN_SIDE) * max(z[3], _MIN_SIDE)))


class BoxKalman:
    """Tracks one box through time ``t`` in seconds.

    ``std_meas``: detector jitter, as a fraction of the box size.
    ``std_acc``: how quickly velocity may change, in box sizes per second squared
    (the box's own width/height change at half that rate).
    ``std_vel0``: prior on the unknown initial velocity, in box sizes per second.
    """

    def __init__(
        self,
        xyxy: np.ndarray,
        t: float,
        *,
        std_meas: float = 0.05,
        std_acc: float = 2.0,
        std_vel0: float = 1.0,
    ) -> None:
        z = _to_state(xyxy)
        size = _size(z)
        self._std_meas = std_meas
        self._acc = np.array([std_acc, std_acc, std_acc / 2, std_acc / 2])
        self._x = np.concatenate([z, np.zeros(4)])
        self._P = np.diag(
            np.r_[np.full(4, (std_meas * size) ** 2), np.full(4, (std_vel0 * size) ** 2)]
        )
        self._t = float(t)

    @property
    def t(self) -> float:
        """Time of the current estimate, in seconds."""
        return self._t

    @property
    def xyxy(self) -> np.ndarray:
        cx, cy, w, h = self._x[:4]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dtype=np.float32)

    def predict(self, t: float) -> np.ndarray:
        """Advance the estimate to time ``t`` and return the predicted box.

        ``dt == 0`` is a no-op; a ``t`` in the past does not rewind (frames should
        arrive in order; a stray late one must not corrupt the velocity).
        """
        dt = float(t) - self._t
        if dt < 0:
            logger.debug("predict: t=%.3f is %.3f s before the estimate; not rewinding", t, -dt)
            return self.xyxy
        if dt == 0:
            return self.xyxy
        F = np.eye(8)
        F[range(4), range(4, 8)] = dt
        # Continuous white-noise acceleration: variance grows with dt, so a track
        # unseen for longer accepts a larger correction on its next detection.
        q = (self._acc * _size(self._x)) ** 2
        Q = np.zeros((8, 8))
        Q[range(4), range(4)] = q * dt**3 / 3
        Q[range(4), range(4, 8)] = Q[range(4, 8), range(4)] = q * dt**2 / 2
        Q[range(4, 8), range(4, 8)] = q * dt
        self._x = F @ self._x
        self._x[2:4] = np.maximum(
            self._x[2:4], _MIN_SIDE
        )  # extrapolated shrink must stop at a point
        self._P = F @ self._P @ F.T + Q
        self._t = float(t)
        return self.xyxy

    def update(self, xyxy: np.ndarray, t: float) -> None:
        """Correct the estimate with a detected box seen at time ``t``."""
        z = _to_state(xyxy)
        self.predict(t)
        R = np.eye(4) * (self._std_meas * _size(z)) ** 2
        S = self._P[:4, :4] + R
        K = np.linalg.solve(S, self._P[:4, :]).T  # P H^T S^-1; S and P are symmetric
        self._x = self._x + K @ (z - self._x[:4])
        self._x[2:4] = np.maximum(self._x[2:4], _MIN_SIDE)
        # Joseph form: stays symmetric positive definite despite rounding.
        IKH = np.eye(8) - K @ _H
        self._P = IKH @ self._P @ IKH.T + K @ R @ K.T
