"""Put frames back in sequence order.

Several detector processes finish frames out of order; the tracker needs them in
order (its Kalman filters do not rewind). A missing frame is waited for at most
``wait_s`` seconds (it may have been lost with a crashed worker), and never with
more than ``max_items`` frames held back, so memory and latency stay bounded.
"""

from __future__ import annotations

import logging
from typing import Any

from config.errors import ConfigError

logger = logging.getLogger(__name__)


class ReorderBuffer:
    def __init__(self, wait_s: float, max_items: int = 256, start: int = 0) -> None:
        if not wait_s >= 0:
            raise ConfigError(f"wait_s: expected >= 0, got {wait_s!r}")
        if max_items < 1:
            raise ConfigError(f"max_items: expected >= 1, got {max_items!r}")
        self.wait_s = wait_s
        self.max_items = max_items
        self.reset(start)

    def reset(self, start: int = 0) -> None:
        """Drop everything buffered and expect ``start`` next (a new run)."""
        self._pending: dict[int, tuple[Any, float]] = {}  # seq -> (item, arrival time)
        self.next_seq = start
        self.skipped = 0  # seqs given up on
        self.late = 0  # seqs that came after they were released or skipped, or twice

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, seq: int, item: Any, now: float) -> list[tuple[int, Any]]:
        """Add one item; return the items now releasable, in seq order."""
        if seq < self.next_seq or seq in self._pending:
            self.late += 1
            logger.debug(
                "reorder: seq %d is late or a duplicate (expecting %d)", seq, self.next_seq
            )
            return []
        self._pending[seq] = (item, now)
        return self.poll(now)

    def poll(self, now: float) -> list[tuple[int, Any]]:
        """Release what is in order, skipping a gap once it has waited too long."""
        out = self._release_run()
        while self._pending and self._gap_expired(now):
            self._skip_to(min(self._pending))
            out += self._release_run()
        return out

    def flush(self) -> list[tuple[int, Any]]:
        """Release everything, in order, skipping every gap (end of input)."""
        out = self._release_run()
        while self._pending:
            self._skip_to(min(self._pending))
            out += self._release_run()
        return out

    def _gap_expired(self, now: float) -> bool:
        if len(self._pending) > self.max_items:
            return True
        oldest = min(arrival for _, arrival in self._pending.values())
        # wait_s == 0 means "never wait", even within the same instant.
        return self.wait_s == 0 or now - oldest > self.wait_s

    def _skip_to(self, seq: int) -> None:
        missing = seq - self.next_seq
        self.skipped += missing
        logger.info("reorder: gave up on %d missing seq(s) %d..%d", missing, self.next_seq, seq - 1)
        self.next_seq = seq

    def _release_run(self) -> list[tuple[int, Any]]:
        out = []
        while self.next_seq in self._pending:
            item, _ = self._pending.pop(self.next_seq)
            out.append((self.next_seq, item))
            self.next_seq += 1
        return out
