"""Pure numpy/scipy tracking: the face type, Kalman filter, association, identity voting.

No Redis, no torch: everything here is testable with arrays alone. The names below are
imported on first use: every process imports ``tracker.faces`` (the wire schema's face type),
and only the tracker needs scipy's assignment solver (~50 MiB, over a second to import).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker.base import Tracker, TrackUpdate
    from tracker.face_tracker import FaceTracker, TrackerParams
    from tracker.faces import Faces
    from tracker.identity import IdentityVote
    from tracker.ids import TrackIdAllocator
    from tracker.iou import iou_matrix
    from tracker.iou_tracker import IouTracker
    from tracker.kalman import BoxKalman
    from tracker.reorder import ReorderBuffer

_WHERE = {
    "BoxKalman": "tracker.kalman",
    "FaceTracker": "tracker.face_tracker",
    "Faces": "tracker.faces",
    "IdentityVote": "tracker.identity",
    "IouTracker": "tracker.iou_tracker",
    "ReorderBuffer": "tracker.reorder",
    "TrackIdAllocator": "tracker.ids",
    "TrackUpdate": "tracker.base",
    "Tracker": "tracker.base",
    "TrackerParams": "tracker.face_tracker",
    "iou_matrix": "tracker.iou",
}
__all__ = [
    "BoxKalman",
    "FaceTracker",
    "Faces",
    "IdentityVote",
    "IouTracker",
    "ReorderBuffer",
    "TrackIdAllocator",
    "TrackUpdate",
    "Tracker",
    "TrackerParams",
    "iou_matrix",
]


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
