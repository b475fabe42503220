"""What every tracker of one camera shares: its tracks by id, and the result of one update."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from tracker.ids import TrackIdAllocator

T = TypeVar("T")


@dataclass(frozen=True)
class TrackUpdate:
    """What one tracker update decided; the first three lists are index-aligned with the faces."""

    track_ids: list[str | None]  # track of each detection (None: the face got no track)
    is_new: list[bool]  # True where the detection started its track
    hits: list[int]  # detections the track has had, this one included
    ended: list[str]  # tracks that ended at this update


class TrackTable(Generic[T]):
    """One camera's live tracks, in creation order, with ids that are never reused."""

    def __init__(self, camera: str, ids: TrackIdAllocator | None = None):
        self.camera = camera
        self._ids = ids if ids is not None else TrackIdAllocator(camera)
        self._tracks: dict[str, T] = {}  # insertion order = creation order

    @property
    def live_tracks(self) -> list[str]:
        return list(self._tracks)

    def finish(self) -> list[str]:
        """End every live track (end of a file or stream, a shot cut) and return their ids."""
        ended = list(self._tracks)
        self._tracks.clear()
        return ended

    def reset(self) -> None:
        """Forget all tracks for a new run. Ids keep counting: they must never be reused."""
        self._tracks.clear()
