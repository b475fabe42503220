"""ByteTrack-style face tracker: Kalman motion, two-stage assignment, lifecycle in seconds.

Motion only: the tracker runs before the embedder (DESIGN.md section 2), so it
has boxes and confidences, never appearance; a face that comes back where its
motion cannot explain gets a new track, and ``TrackBook`` (after the embedder)
finds that it is an old one. Per update, with ``t`` in seconds (never frames, so
a detector running at any rate, or skipping frames, behaves the same):

1. age out: tracks unseen too long end (before they could take a new face);
2. predict: every live track predicts its box at ``t`` (constant-velocity Kalman);
3. associate, each stage a ``linear_sum_assignment`` on ``1 - IoU`` (a global
   optimum, so crossing faces do not steal each other's track the way greedy
   matching can):
   a. high-confidence faces vs. confirmed and lost tracks;
   b. low-confidence faces vs. the confirmed tracks still unmatched (a stricter
      gate): a half-occluded or blurred face keeps its track instead of starting one;
   c. remaining high-confidence faces vs. tentative tracks;
4. update matched: the matched tracks take their face's box;
5. start new: remaining high-confidence faces start tentative tracks; unmatched
   low-confidence faces get no track (``None``);
6. mark lost: confirmed tracks not seen at ``t``.

Lifecycle: tentative (until ``min_hits`` detections) -> confirmed -> lost (unseen
now) -> removed (unseen for ``lost_window_s``; a tentative track after
``tentative_lost_s``).
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

TENTATIVE, CONFIRMED, LOST = "tentative", "confirmed", "lost"
_INFEASIBLE = 1e6  # a cost no pair below the IoU gate may win with
_DEFAULTS = TrackSettings()  # the settings own the defaults: one value per fact


@dataclass
class TrackerParams:
    high_confidence: float = _DEFAULTS.high_confidence  # faces below this only continue tracks
    iou_min: float = _DEFAULTS.iou_min  # IoU gate, high-confidence stage
    low_iou_min: float = 0.4  # IoU gate, low-confidence stage (stricter: these faces are less sure)
    min_hits: int = _DEFAULTS.min_hits  # detections before a track is confirmed
    tentative_lost_s: float = _DEFAULTS.tentative_lost_s  # an unconfirmed track unseen this long
    lost_window_s: float = _DEFAULTS.max_lost_s  # a confirmed track unseen this long is removed

    @classmethod
    def from_section(cls, track: TrackSettings) -> TrackerParams:
        return cls(
            high_confidence=track.high_confidence,
            iou_min=track.iou_min,
            min_hits=track.min_hits,
            tentative_lost_s=track.tentative_lost_s,
            lost_window_s=track.max_lost_s,
        )

    def check(self) -> None:
        for name in ("iou_min", "low_iou_min"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name}: expected 0 < value < 1, got {getattr(self, name)!r}")
        for name in ("tentative_lost_s", "lost_window_s"):
            if not getattr(self, name) > 0.0:
                raise ConfigError(f"{name}: expected > 0 seconds, got {getattr(self, name)!r}")
        if self.min_hits < 1:
            raise ConfigError(f"min_hits: expected >= 1, got {self.min_hits!r}")


@dataclass
class Track:
    id: str
    kalman: BoxKalman
    first_seen: float
    last_seen: float
    hits: int = 1
    state: str = TENTATIVE


class FaceTracker(Tracker[Track]):
    """One camera's tracks. ``update`` returns an explicit detection -> track id mapping."""

    def __init__(
        self, camera: str, params: TrackerParams | None = None, ids: TrackIdAllocator | None = None
    ):
        super().__init__(camera, ids)
        self.params = params or TrackerParams()
        self.params.check()
        self._t = -math.inf
        self.late = 0  # updates older than the last one: counted, ignored

    def track(self, track_id: str) -> Track | None:
        return self._tracks.get(track_id)

    def update(self, faces: Faces, t: float) -> TrackUpdate:
        """Assign the faces seen at time ``t`` (seconds) to tracks."""
        t = float(t)
        if not math.isfinite(t):
            raise MessageError(f"t: expected a finite frame time in seconds, got {t!r}")
        n = len(faces)
        if t < self._t:
            # never rewind: a late frame changes nothing and its faces get no track
            self.late += 1
            logger.debug("%s: update at t=%.3f is before t=%.3f: ignored", self.camera, t, self._t)
            return TrackUpdate([None] * n, [False] * n, [0] * n, [])
        self._t = t
        ended = self._age_out(t)
        tracks = list(self._tracks.values())
        predicted = self._predict(tracks, t)
        assigned = self._associate(tracks, predicted, faces)
        track_ids: list[str | None] = [None] * n
        is_new, hits = [False] * n, [0] * n
        high = faces.confidence >= self.params.high_confidence
        for j in range(n):
            tr = assigned.get(j)
            if tr is not None:
                self._update_matched(tr, faces.xyxy[j], t)
            elif high[j]:
                tr = self._start_new(faces.xyxy[j], t)
                is_new[j] = True
            else:
                continue
            track_ids[j], hits[j] = tr.id, tr.hits
        self._mark_lost(t)
        return TrackUpdate(track_ids=track_ids, is_new=is_new, hits=hits, ended=ended)

    # --- the steps of one update ------------------------------------------------------------
    def _age_out(self, t: float) -> list[str]:
        p = self.params
        ended = [
            tid
            for tid, tr in self._tracks.items()
            if t - tr.last_seen > (p.tentative_lost_s if tr.state == TENTATIVE else p.lost_window_s)
        ]
        for tid in ended:
            del self._tracks[tid]
            logger.debug("%s: track %s removed", self.camera, tid)
        return ended

    @staticmethod
    def _predict(tracks: list[Track], t: float) -> np.ndarray:
        if not tracks:
            return np.zeros((0, 4), np.float32)
        return np.stack([tr.kalman.predict(t) for tr in tracks])

    def _associate(
        self, tracks: list[Track], predicted: np.ndarray, faces: Faces
    ) -> dict[int, Track]:
        """Face index -> its track, by the three assignment stages."""
        p = self.params
        high = faces.confidence >= p.high_confidence
        assigned: dict[int, Track] = {}

        def free_faces(mask: np.ndarray) -> list[int]:
            return [j for j in range(len(faces)) if mask[j] and j not in assigned]

        def free_tracks(*states: str) -> list[int]:
            taken = {id(tr) for tr in assigned.values()}
            return [i for i, tr in enumerate(tracks) if tr.state in states and id(tr) not in taken]

        # each stage sees what the earlier ones left
        assigned.update(
            self._assign(
                tracks, predicted, faces, free_tracks(CONFIRMED, LOST), free_faces(high), p.iou_min
            )
        )
        assigned.update(
            self._assign(
                tracks, predicted, faces, free_tracks(CONFIRMED), free_faces(~high), p.low_iou_min
            )
        )
        assigned.update(
            self._assign(
                tracks, predicted, faces, free_tracks(TENTATIVE), free_faces(high), p.iou_min
            )
        )
        return assigned

    def _update_matched(self, tr: Track, box: np.ndarray, t: float) -> None:
        tr.kalman.update(box, t)
        tr.last_seen = t
        tr.hits += 1
        if tr.state == LOST:
            logger.debug("%s: track %s found again", self.camera, tr.id)
        if tr.state != TENTATIVE or tr.hits >= self.params.min_hits:
            tr.state = CONFIRMED

    def _start_new(self, box: np.ndarray, t: float) -> Track:
        tr = Track(self._ids.next(), BoxKalman(box, t), first_seen=t, last_seen=t)
        if self.params.min_hits <= 1:
            tr.state = CONFIRMED
        self._tracks[tr.id] = tr
        logger.debug("%s: track %s started", self.camera, tr.id)
        return tr

    def _mark_lost(self, t: float) -> None:
        for tr in self._tracks.values():
            if tr.state == CONFIRMED and tr.last_seen < t:
                tr.state = LOST

    @staticmethod
    def _assign(
        tracks: list[Track],
        predicted: np.ndarray,
        faces: Faces,
        track_idx: list[int],
        face_idx: list[int],
        gate: float,
    ) -> dict[int, Track]:
        """One stage: the globally best pairs of ``1 - IoU`` with IoU at least ``gate``."""
        if not track_idx or not face_idx:
            return {}
        iou = iou_matrix(predicted[track_idx], faces.xyxy[face_idx])
        rows, cols = linear_sum_assignment(np.where(iou >= gate, 1.0 - iou, _INFEASIBLE))
        return {
            face_idx[c]: tracks[track_idx[r]]
            for r, c in zip(rows, cols, strict=True)
            if iou[r, c] >= gate
        }
