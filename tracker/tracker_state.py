"""A camera's tracker and shot picker as plain values and back, exactly: what the tracker stage
keeps across restarts.

Everything that decides a later update is here: every live track in creation order (its
Kalman filter's state vector, covariance and time, its hits, times and lifecycle state), the
id allocator's token and counter (so a restored tracker continues the same ids), the last
update time, and each track's shot budget. Floats stay doubles and arrays keep their dtype,
so a restored tracker assigns the next frame exactly as the original would have. Parameters
(``TrackerParams``, IoU gates, ``ShotParams``) are settings, not state: the owner passes them
again.
"""

from __future__ import annotations

import numpy as np

from config.errors import MessageError
from tracker.base import Tracker
from tracker.face_tracker import FaceTracker, Track, TrackerParams
from tracker.ids import TrackIdAllocator
from tracker.iou_tracker import IouTracker, _Track
from tracker.kalman import BoxKalman
from tracker.shots import ShotParams, ShotPicker, _Shots

STATE_VERSION = 1


def _kalman(k: BoxKalman) -> list:
    return [k._x, k._P, k._t, k._std_meas, k._acc]  # this module is the filter's other half


def _restore_kalman(row: list) -> BoxKalman:
    k = BoxKalman.__new__(BoxKalman)
    x, p, t, std_meas, acc = row
    # copies: decoded arrays are read-only views of the payload, and the filter writes in place
    k._x, k._P, k._acc = np.array(x, np.float64), np.array(p, np.float64), np.array(acc)
    k._t, k._std_meas = float(t), float(std_meas)
    return k


def _ids(ids: TrackIdAllocator) -> list:
    return [ids.prefix, ids.token, ids._n]


def _restore_ids(row: list) -> TrackIdAllocator:
    ids = TrackIdAllocator(row[0])
    ids.token, ids._n = row[1], int(row[2])
    return ids


def tracker_state(tracker: Tracker) -> dict:
    """The tracker (``FaceTracker`` or ``IouTracker``) as plain values, for msgpack."""
    if isinstance(tracker, FaceTracker):
        tracks = [
            [tr.id, _kalman(tr.kalman), tr.first_seen, tr.last_seen, tr.hits, tr.state]
            for tr in tracker._tracks.values()
        ]
        extra = {"t": tracker._t, "late": tracker.late}
        kind = "face"
    elif isinstance(tracker, IouTracker):
        tracks = [
            [tr.id, _kalman(tr.kalman), tr.last_seen, tr.hits] for tr in tracker._tracks.values()
        ]
        extra, kind = {}, "iou"
    else:
        raise TypeError(f"tracker: expected FaceTracker or IouTracker, got {type(tracker)}")
    return {"v": STATE_VERSION, "kind": kind, "ids": _ids(tracker._ids), "tracks": tracks, **extra}


def restore_face_tracker(state: dict, camera: str, params: TrackerParams) -> FaceTracker:
    _check(state, "face")
    tracker = FaceTracker(camera, params, _restore_ids(state["ids"]))
    for tid, kalman, first_seen, last_seen, hits, lifecycle in state["tracks"]:
        tracker._tracks[tid] = Track(
            tid, _restore_kalman(kalman), first_seen, last_seen, hits, lifecycle
        )
    tracker._t, tracker.late = float(state["t"]), int(state["late"])
    return tracker


def restore_iou_tracker(state: dict, camera: str, iou_min: float, max_lost_s: float) -> IouTracker:
    _check(state, "iou")
    tracker = IouTracker(camera, iou_min, max_lost_s, _restore_ids(state["ids"]))
    for tid, kalman, last_seen, hits in state["tracks"]:
        tracker._tracks[tid] = _Track(tid, _restore_kalman(kalman), last_seen, hits)
    return tracker


def _check(state: dict, kind: str) -> None:
    if state.get("v") != STATE_VERSION:
        raise MessageError(
            f"tracker state field 'v': expected {STATE_VERSION}, got {state.get('v')!r}"
        )
    if state.get("kind") != kind:
        raise MessageError(f"tracker state field 'kind': expected {kind!r}, got {state['kind']!r}")


def shots_state(picker: ShotPicker) -> list:
    return [
        [tid, s.taken, s.best, s.last_t, s.seen, s.last_seen_t, s.reacquired]
        for tid, s in picker._tracks.items()
    ]


def restore_shots(state: list, params: ShotParams) -> ShotPicker:
    picker = ShotPicker(params)
    for tid, *fields in state:
        picker._tracks[tid] = _Shots(*fields)
    return picker
