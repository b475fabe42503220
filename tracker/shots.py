"""Which faces to embed: a per-track budget of best shots (DESIGN.md section 2).

Embedding is the expensive step, and one track needs a few good views, not
every frame. Per track:

- its first face worth embedding (quality >= ``min_quality``) is always embedded,
  so that a new track gets a name (or is found to be a returning one) at once,
  and so are its next ``early`` faces, ``min_gap_s`` apart: the first view of a
  face coming back from behind another, or in from the border, is often partial;
- then a face is embedded when its quality beats the track's best so far by
  ``better_ratio``, at most ``budget`` shots in all, at least ``min_gap_s`` apart;
- and, whatever the budget, one shot every ``refresh_s`` seconds, so a confirmed
  name is re-checked rarely but never never;
- a track back after ``reacquire_gap_s`` unseen gets its first shots again,
  as a new track does: the tracker took it up by motion alone, and the
  matcher checks that it is still the same person (``TrackBook``).

``limit`` caps the faces embedded in one frame (live sources: an embedder that
falls behind delays every frame after it). Faces whose track has no shot yet go
first, then the best; a face passed over keeps its turn for the next frame.

``every_n == 1`` embeds every face of every frame (for users with a GPU who want it).
Everything is in seconds and depends only on the faces seen, so the choice is the
same whatever the number of detector processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from config.errors import ConfigError
from config.sections import EmbedSettings
from tracker.track_book import REACQUIRE_GAP_S

_EPS = 1e-6  # frame times are float sums: 0.2 s at 5 fps must count as 0.2 s
_DEFAULTS = EmbedSettings()  # the settings own the defaults: one value per fact


@dataclass
class ShotParams:
    every_n: int = 0  # 1 = every face of every frame; 0 = best shots only
    budget: int = _DEFAULTS.budget_per_track
    early: int = 3  # of the budget: the first shots, taken without needing a better quality
    better_ratio: float = 1.25
    min_gap_s: float = _DEFAULTS.min_gap_s
    refresh_s: float = _DEFAULTS.refresh_s
    min_quality: float = 0.05
    reacquire_gap_s: float = REACQUIRE_GAP_S

    @classmethod
    def from_section(cls, embed: EmbedSettings) -> ShotParams:
        return cls(
            every_n=1 if embed.every_n == 1 else 0,
            budget=embed.budget_per_track,
            min_gap_s=embed.min_gap_s,
            refresh_s=embed.refresh_s,
        )

    def check(self) -> None:
        if self.every_n < 0 or self.budget < 1 or self.better_ratio < 1.0 or self.refresh_s <= 0:
            raise ConfigError(
                f"shot params: expected every_n >= 0, budget >= 1, better_ratio >= 1, "
                f"refresh_s > 0, got {self}"
            )


@dataclass
class _Shots:
    taken: int = 0
    best: float = 0.0
    last_t: float = float("-inf")
    seen: int = 0
    last_seen_t: float = float("-inf")
    reacquired: bool = False


class ShotPicker:
    def __init__(self, params: ShotParams | None = None):
        self.params = params or ShotParams()
        self.params.check()
        self._tracks: dict[str, _Shots] = {}

    def pick(
        self, track_ids: Sequence[str | None], quality: np.ndarray, t: float, limit: int = 0
    ) -> list[int]:
        """Indices of the faces (aligned with ``track_ids``) to embed at time ``t``; at most ``limit`` if > 0."""
        p = self.params
        wanted = []
        picked: dict[int, _Shots] = {}  # face index -> its track's shots (track_ids[i] is not None)
        for i, tid in enumerate(track_ids):
            if tid is None:
                continue
            s = self._tracks.setdefault(tid, _Shots())
            s.seen += 1
            q = float(quality[i])
            if s.taken and t - s.last_seen_t >= p.reacquire_gap_s - _EPS:
                # back by motion alone: its first shots again, as for a new track
                s.taken, s.best, s.reacquired = 0, 0.0, True
            s.last_seen_t = t
            if self._wants(s, q, t):
                wanted.append(i)
                picked[i] = s
        if 0 < limit < len(wanted):
            # unnamed tracks first (a name is what the user waits for), then the clearest faces
            wanted = sorted(
                sorted(wanted, key=lambda i: (picked[i].taken > 0, -quality[i]))[:limit]
            )
        for i in wanted:
            s = picked[i]
            s.taken += 1
            s.best = max(s.best, float(quality[i]))
            s.last_t = t
        return wanted

    def _wants(self, s: _Shots, q: float, t: float) -> bool:
        p = self.params
        if p.every_n == 1:
            return True
        if q < p.min_quality and s.taken:
            return t - s.last_t >= p.refresh_s and q > 0
        if not s.taken:
            return (
                q >= p.min_quality or s.seen >= 3
            )  # a track of only poor faces still gets one try
        if t - s.last_t >= p.refresh_s - _EPS:
            return True
        if s.taken < min(p.early, p.budget):
            # a reacquired track: on consecutive frames, its first clear view must show who it is
            return (s.reacquired and q > 0) or t - s.last_t >= p.min_gap_s - _EPS
        return (
            s.taken < p.budget
            and t - s.last_t >= p.min_gap_s - _EPS
            and q >= s.best * p.better_ratio
        )

    def forget(self, track_ids: list[str] | tuple[str, ...]) -> None:
        for tid in track_ids:
            self._tracks.pop(tid, None)
