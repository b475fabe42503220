"""Track ids that are unique across cameras, processes and restarts.

The counter lives on the instance: a class-level counter (the bug shared by
SORT, ByteTrack, OC-SORT, norfair and supervision) leaks ids between trackers
and makes them depend on what else ran in the process.
"""

from __future__ import annotations

import secrets


class TrackIdAllocator:
    """``next()`` gives ``"{prefix}-{token}-{n}"``, n = 1, 2, ...

    ``token`` is 6 random hex digits drawn once per allocator, so two allocators
    with the same prefix (two runs, or a restarted worker) still never collide.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.token = secrets.token_hex(3)
        self._n = 0

    def next(self) -> str:
        self._n += 1
        return f"{self.prefix}-{self.token}-{self._n}"

    def __repr__(self) -> str:
        return f"TrackIdAllocator(prefix={self.prefix!r}, token={self.token!r}, issued={self._n})"
