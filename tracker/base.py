"""What every tracker of one camera is: ``update`` with a frame's faces, ``reset`` at a cut or end.

``Tracker`` holds the camera's live tracks by id (ids from a per-instance
``TrackIdAllocator``, never reused) and declares the two methods the tracker
stage calls; ``FaceTracker`` (ByteTrack-style) and ``IouTracker`` (SORT-like)
implement ``update``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Generic, TypeVar

from tracker.faces import Faces
from tracker.ids import TrackIdAllocator

T = TypeVar("T")


@dataclass(frozen=True)
class TrackUpdate:
    """What one tracker update decided; the first three lists are index-aligned with the faces."""

    track_ids: list[str | None]  # track of each detection (None: the face got no track)
    is_new: list[bool]  # True where the detection started its track
    hits: list[int]  # detections the track has had, this one included
    ended: list[str]  # tracks that ended at this update


class Tracker(ABC, Generic[T]):
    """One camera's live tracks, in creation order, with ids that are never reused."""

    def __init__(self, camera: str, ids: TrackIdAllocator | None = None):
        self.camera = camera
        self._ids = ids if ids is not None else TrackIdAllocator(camera)
        self._tracks: dict[str, T] = {}  # insertion order = creation order

    @abstractmethod
    def update(self, faces: Faces, t: float) -> TrackUpdate:
        """Assign the faces seen at frame time ``t`` (seconds) to tracks."""

    def reset(self) -> list[str]:
        """End every live track (a shot cut, the end of a source) and return their ids.

        Ids keep counting: a track id is never reused, not even after a reset."""
        ended = list(self._tracks)
        self._tracks.clear()
        return ended

    @property
    def live_tracks(self) -> list[str]:
        return list(self._tracks)
