"""IoU + Kalman association of faces to tracks, one tracker per camera.

Deliberately simple (SORT-like): every detection is assigned to a track, new
tracks are confirmed at once, and a track ends when unseen for ``max_lost_s``
seconds. The output is an explicit detection→track mapping; the ``Faces`` passed
in are never mutated.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from config.errors import ConfigError, MessageError
from config.sections import TrackSettings
from tracker.base import Tracker, TrackUpdate
from tracker.faces import Faces
from tracker.ids import TrackIdAllocator
from tracker.iou import iou_matrix
from tracker.kalman import BoxKalman

logger = logging.getLogger(__name__)

_DEFAULTS = TrackSettings()  # the settings own the defaults: one value per fact


@dataclass
class _Track:
    id: str
    kalman: BoxKalman
    last_seen: float
    hits: int = 1


class IouTracker(Tracker[_Track]):
    def __init__(
        self,
        camera: str,
        iou_min: float = _DEFAULTS.iou_min,
        max_lost_s: float = _DEFAULTS.max_lost_s,
        ids: TrackIdAllocator | None = None,
    ) -> None:
        if not 0.0 < iou_min < 1.0:
            raise ConfigError(f"iou_min: expected 0 < iou_min < 1, got {iou_min!r}")
        if not max_lost_s > 0.0:
            raise ConfigError(f"max_lost_s: expected > 0, got {max_lost_s!r}")
        super().__init__(camera, ids)
        self.iou_min = iou_min
        self.max_lost_s = max_lost_s

    def update(self, faces: Faces, t: float) -> TrackUpdate:
        """Assign the faces seen at frame time ``t`` (seconds) to tracks."""
        t = float(t)
        if not math.isfinite(t):
            raise MessageError(f"t: expected a finite frame time in seconds, got {t!r}")
        # Expire first: a track gone longer than max_lost_s must not grab a new face.
        ended = [tid for tid, tr in self._tracks.items() if t - tr.last_seen > self.max_lost_s]
        for tid in ended:
            del self._tracks[tid]
            logger.debug("%s: track %s ended (unseen > %.2f s)", self.camera, tid, self.max_lost_s)

        tracks = list(self._tracks.values())
        boxes = faces.xyxy
        n = len(boxes)
        assigned: list[_Track | None] = [None] * n
        if tracks:
            predicted = np.stack([tr.kalman.predict(t) for tr in tracks])
            if n:
                iou = iou_matrix(predicted, boxes)
                # Hungarian on 1 - IoU: a globally best pairing, so crossing faces
                # do not steal each other's track the way greedy matching can.
                rows, cols = linear_sum_assignment(1.0 - iou)
                for r, c in zip(rows, cols, strict=True):
                    if iou[r, c] >= self.iou_min:
                        assigned[c] = tracks[r]

        track_ids: list[str | None] = []
        is_new: list[bool] = []
        hits: list[int] = []
        for j in range(n):
            tr = assigned[j]
            if tr is None:
                tr = _Track(self._ids.next(), BoxKalman(boxes[j], t), last_seen=t)
                self._tracks[tr.id] = tr
                is_new.append(True)
                logger.debug("%s: track %s started", self.camera, tr.id)
            else:
                tr.kalman.update(boxes[j], t)
                tr.last_seen = max(tr.last_seen, t)
                tr.hits += 1
                is_new.append(False)
            track_ids.append(tr.id)
            hits.append(tr.hits)
        return TrackUpdate(track_ids=track_ids, is_new=is_new, hits=hits, ended=ended)
