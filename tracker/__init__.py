"""Pure numpy/scipy tracking: the face type, Kalman filter, association, identity voting.

No Redis, no torch: everything here is testable with arrays alone.
"""

from tracker.base import Tracker, TrackUpdate
from tracker.face_tracker import FaceTracker, TrackerParams
from tracker.faces import Faces
from tracker.identity import IdentityVote
from tracker.ids import TrackIdAllocator
from tracker.iou import iou_matrix
from tracker.iou_tracker import IouTracker
from tracker.kalman import BoxKalman
from tracker.reorder import ReorderBuffer

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
