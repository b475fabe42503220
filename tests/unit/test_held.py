"""Entries held by the runtime (workers/held.py): tried again from memory, once each."""

from __future__ import annotations

from workers.bus import Entry
from workers.held import Held


def _entry(i: int) -> Entry:
    return Entry("fs:embedded", f"{i}-0", b"x")


def test_held_entries_come_back_in_order_once_and_at_once_after_progress() -> None:
    held = Held()
    held.hold(_entry(2), "waits for 1")
    held.hold(_entry(3), "waits for 1")
    held.hold(_entry(2), "again")  # the same entry twice is held once
    assert len(held) == 2
    assert [e.id for e in held.due(progressed=True)] == ["2-0", "3-0"]
    assert len(held) == 0 and held.due(progressed=True) == []
    held.hold(_entry(3), "waits for 1")
    assert held.due(progressed=False) == []  # tried a moment ago: not yet again
    assert [e.id for e in held.due(progressed=True)] == ["3-0"]
