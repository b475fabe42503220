"""Boxes for frames the detector skipped (``detect_every_n``).

Kept outside the tracker on purpose: it needs only what the tracker already
returns (track id per face), so any tracker implementation works with it. Each
track seen at the last detected frame is moved at the velocity it had between
its last two detections; tracks not seen there are not carried (they are lost or
ended, and the next detection decides).
"""

from __future__ import annotations

import numpy as np

from tracker.faces import Faces


class BoxCarrier:
    def __init__(self, max_carry_s: float = 0.5):
        self.max_carry_s = max_carry_s
        self.clear()

    def clear(self) -> None:
        self._t: float | None = None
        self._ids: tuple[str, ...] = ()
        self._faces = Faces.empty()
        self._velocity = np.zeros((0, 4), np.float32)  # px per second, per box coordinate

    def observe(self, track_ids: list[str] | tuple[str, ...], faces: Faces, t: float) -> None:
        """A detected frame: remember its tracked boxes and each track's velocity since its last detection."""
        velocity = np.zeros((len(faces), 4), np.float32)
        if self._t is not None and t > self._t:
            previous = {tid: i for i, tid in enumerate(self._ids)}
            for j, tid in enumerate(track_ids):
                i = previous.get(tid)
                if i is not None:
                    velocity[j] = (faces.xyxy[j] - self._faces.xyxy[i]) / (t - self._t)
        self._t, self._ids, self._faces, self._velocity = t, tuple(track_ids), faces, velocity

    def carry(self, t: float) -> tuple[Faces, tuple[str, ...]]:
        """The carried boxes at time ``t`` (a frame without detection) and their track ids."""
        if self._t is None or not self._ids:
            return Faces.empty(), ()
        dt = float(np.clip(t - self._t, 0.0, self.max_carry_s))
        shift = self._velocity * dt
        landmarks = None
        if self._faces.landmarks is not None:
            centre = (shift[:, :2] + shift[:, 2:]) / 2
            landmarks = self._faces.landmarks + centre[:, None, :]
        return Faces(self._faces.xyxy + shift, self._faces.confidence, landmarks), self._ids
