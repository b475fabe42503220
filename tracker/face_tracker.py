"""ByteTrack-style face tracker: Kalman motion, two-stage assignment, appearance, lifecycle in seconds.

Per update, with ``t`` in seconds (never frames, so a detector running at any
rate, or skipping frames, behaves the same):

1. every live track predicts its box at ``t`` (constant-velocity Kalman);
2. high-confidence faces vs. confirmed and lost tracks: cost ``1 - IoU``, blended
   with ``1 - cosine`` when both the face and the track have an embedding;
3. low-confidence faces vs. the confirmed tracks still unmatched (IoU only): a
   half-occluded or blurred face keeps its track instead of starting a new one;
4. remaining high-confidence faces vs. tentative tracks;
5. remaining high-confidence faces vs. lost tracks by appearance alone (when
   embeddings are given): a face that comes back elsewhere gets its old id;
6. remaining high-confidence faces start tentative tracks; unmatched
   low-confidence faces get no track (``None``).

Lifecycle: tentative (until ``min_hits`` detections) -> confirmed -> lost (unseen
now) -> removed (unseen for ``lost_window_s``; a tentative track after
``tentative_lost_s``). Each ``linear_sum_assignment`` is a global optimum, so
crossing faces do not steal each other's track the way greedy matching can.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from config.errors import ConfigError, MessageError
from tracker.faces import Faces
from tracker.ids import TrackIdAllocator
from tracker.iou import iou_matrix
from tracker.kalman import BoxKalman
from tracker.track_table import TrackTable, TrackUpdate

logger = logging.getLogger(__name__)

TENTATIVE, CONFIRMED, LOST = "tentative", "confirmed", "lost"
_INFEASIBLE = 1e6


@dataclass
class TrackerParams:
    high_confidence: float = 0.95  # faces below this only continue existing tracks
    iou_min: float = 0.2  # IoU gate, high-confidence stage
    low_iou_min: float = 0.4  # IoU gate, low-confidence stage (stricter: these faces are less sure)
    min_hits: int = 2  # detections before a track is confirmed
    tentative_lost_s: float = 0.3  # an unconfirmed track unseen this long is dropped
    lost_window_s: float = 2.0  # a confirmed track unseen this long is removed
    appearance_weight: float = 0.5  # share of (1 - cosine) in the cost when both sides have embeddings
    appearance_gate: float = 0.8  # below this cosine a face never joins a track that has an embedding
    reid_min_similarity: float = 0.92  # a lost track takes back a face this similar, wherever it is
    embedding_momentum: float = 0.9  # running embedding = m * old + (1 - m) * new, renormalised

    def check(self) -> None:
        for name in ("iou_min", "low_iou_min"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"{name}: expected 0 < value < 1, got {getattr(self, name)!r}")
        for name in ("tentative_lost_s", "lost_window_s"):
            if not getattr(self, name) > 0.0:
                raise ConfigError(f"{name}: expected > 0 seconds, got {getattr(self, name)!r}")
        if self.min_hits < 1:
            raise ConfigError(f"min_hits: expected >= 1, got {self.min_hits!r}")
        if not 0.0 <= self.appearance_weight <= 1.0:
            raise ConfigError(f"appearance_weight: expected 0..1, got {self.appearance_weight!r}")


@dataclass
class Track:
    id: str
    kalman: BoxKalman
    first_seen: float
    last_seen: float
    hits: int = 1
    state: str = TENTATIVE
    embedding: np.ndarray | None = field(default=None, repr=False)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v


class FaceTracker(TrackTable[Track]):
    """One camera's tracks. ``update`` returns an explicit detection -> track id mapping."""

    def __init__(self, camera: str, params: TrackerParams | None = None, ids: TrackIdAllocator | None = None):
        super().__init__(camera, ids)
        self.params = params or TrackerParams()
        self.params.check()
        self._t = -math.inf
        self.late = 0  # updates older than the last one: counted, ignored

    def track(self, track_id: str) -> Track | None:
        return self._tracks.get(track_id)

    def set_embedding(self, track_id: str, embedding: np.ndarray) -> None:
        """Fold an embedding computed elsewhere (the embedder) into a track's running embedding."""
        tr = self._tracks.get(track_id)
        if tr is not None:
            self._fold(tr, embedding)

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
        ended = self._expire(t)
        tracks = list(self._tracks.values())
        predicted = np.stack([tr.kalman.predict(t) for tr in tracks]) if tracks else np.zeros((0, 4), np.float32)
        emb = faces.embeddings
        high = faces.confidence >= self.params.high_confidence
        assigned: dict[int, Track] = {}

        def stage(track_idx: list[int], det_idx: list[int], gate: float, use_iou: bool = True) -> None:
            if not track_idx or not det_idx:
                return
            cost = self._cost([tracks[i] for i in track_idx], predicted[track_idx], faces, det_idx, gate, use_iou)
            rows, cols = linear_sum_assignment(cost)
            for r, c in zip(rows, cols):
                if cost[r, c] < _INFEASIBLE:
                    assigned[det_idx[c]] = tracks[track_idx[r]]

        def free_dets(mask: np.ndarray) -> list[int]:
            return [j for j in range(n) if mask[j] and j not in assigned]

        def free_tracks(states: tuple[str, ...]) -> list[int]:
            taken = {id(tr) for tr in assigned.values()}
            return [i for i, tr in enumerate(tracks) if tr.state in states and id(tr) not in taken]

        stage(free_tracks((CONFIRMED, LOST)), free_dets(high), self.params.iou_min)
        stage(free_tracks((CONFIRMED,)), free_dets(~high), self.params.low_iou_min)
        stage(free_tracks((TENTATIVE,)), free_dets(high), self.params.iou_min)
        if emb is not None:
            stage(free_tracks((LOST,)), free_dets(high), 0.0, use_iou=False)

        track_ids: list[str | None] = [None] * n
        is_new, hits = [False] * n, [0] * n
        for j in range(n):
            tr = assigned.get(j)
            if tr is None:
                if not high[j]:
                    continue
                tr = Track(self._ids.next(), BoxKalman(faces.xyxy[j], t), first_seen=t, last_seen=t)
                if self.params.min_hits <= 1:
                    tr.state = CONFIRMED
                self._tracks[tr.id] = tr
                is_new[j] = True
                logger.debug("%s: track %s started", self.camera, tr.id)
            else:
                tr.kalman.update(faces.xyxy[j], t)
                tr.last_seen = t
                tr.hits += 1
                if tr.state == LOST:
                    logger.debug("%s: track %s found again", self.camera, tr.id)
                if tr.state != TENTATIVE or tr.hits >= self.params.min_hits:
                    tr.state = CONFIRMED
            if emb is not None:
                self._fold(tr, emb[j])
            track_ids[j], hits[j] = tr.id, tr.hits
        for tr in self._tracks.values():
            if tr.state == CONFIRMED and tr.last_seen < t:
                tr.state = LOST
        return TrackUpdate(track_ids=track_ids, is_new=is_new, hits=hits, ended=ended)

    def reset(self) -> None:
        super().reset()
        self._t = -math.inf

    # ------------------------------------------------------------------------------------
    def _expire(self, t: float) -> list[str]:
        p = self.params
        ended = [tid for tid, tr in self._tracks.items()
                 if t - tr.last_seen > (p.tentative_lost_s if tr.state == TENTATIVE else p.lost_window_s)]
        for tid in ended:
            del self._tracks[tid]
            logger.debug("%s: track %s removed", self.camera, tid)
        return ended

    def _cost(self, tracks: list[Track], predicted: np.ndarray, faces: Faces, det_idx: list[int], gate: float,
              use_iou: bool) -> np.ndarray:
        p = self.params
        iou = iou_matrix(predicted, faces.xyxy[det_idx])
        cost = 1.0 - iou
        ok = iou >= gate if use_iou else np.ones_like(iou, dtype=bool)
        if faces.embeddings is not None:
            has = np.array([tr.embedding is not None for tr in tracks])
            if has.any():
                dim = faces.embeddings.shape[1]
                te = np.stack([tr.embedding if tr.embedding is not None and len(tr.embedding) == dim
                               else np.zeros(dim, np.float32) for tr in tracks])
                sim = te @ faces.embeddings[det_idx].T
                if use_iou:
                    blended = (1 - p.appearance_weight) * cost + p.appearance_weight * (1.0 - sim)
                    cost = np.where(has[:, None], blended, cost)
                    ok &= ~has[:, None] | (sim >= p.appearance_gate)
                else:
                    cost = 1.0 - sim
                    ok = has[:, None] & (sim >= p.reid_min_similarity)
            elif not use_iou:
                ok[:] = False
        elif not use_iou:
            ok[:] = False
        return np.where(ok, cost, _INFEASIBLE)

    def _fold(self, tr: Track, embedding: np.ndarray) -> None:
        v = _unit(embedding)
        if not np.all(np.isfinite(v)) or not v.any():
            return
        if tr.embedding is None or len(tr.embedding) != len(v):
            tr.embedding = v
        else:
            m = self.params.embedding_momentum
            tr.embedding = _unit(m * tr.embedding + (1 - m) * v)
