"""Entries a handler cannot handle yet (``workers.handler.NotYet``), kept to be tried again.

They stay pending in Redis (unacked: a successor takes them over if this process dies) and in
memory here, so trying again is no new delivery: an entry that waits for an earlier frame or
for the gallery is never dead-lettered for having waited.
"""

from __future__ import annotations

import logging
import time

from workers.bus import Entry

log = logging.getLogger(__name__)
RETRY_S = 0.2  # how often held entries are tried again while nothing else moved


class Held:
    def __init__(self) -> None:
        self._entries: dict[str, Entry] = {}  # entry id -> entry, in the order they were held
        self._retry_at = 0.0

    def __len__(self) -> int:
        return len(self._entries)

    def hold(self, entry: Entry, why: str) -> None:
        if entry.id not in self._entries:
            log.debug("holding %s %s: %s", entry.stream, entry.id, why)
        self._entries[entry.id] = entry

    def due(self, progressed: bool) -> list[Entry]:
        """The held entries to try now (and forget: one held again comes back through
        ``hold``): every ``RETRY_S``, or at once after an entry was handled (it may be the
        earlier frame they wait for)."""
        now = time.monotonic()
        if not self._entries or (not progressed and now < self._retry_at):
            return []
        self._retry_at = now + RETRY_S
        entries = list(self._entries.values())
        self._entries.clear()
        return entries
