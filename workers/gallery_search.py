"""The matcher's questions to Milvus, and what it does while Milvus does not answer.

When Milvus is unreachable (a failed connect as much as a failed search), searches are retried
with capped backoff and a frame is never dead-lettered for it. Meanwhile a live camera's tracks
flow unnamed and are named once it is back; a file's frames wait for it (the matcher raises
``NotYet``: the runtime holds them without spending deliveries), so a file run gives the same
records as without a restart of milvus-lite (`run` restarts it within seconds). A file's frames
wait at most ``FILE_WAIT_S`` into an outage, then flow unnamed too: a Milvus that stays away
must not keep a file run from ending. The health key says so, for `run` and `status`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from workers.backoff import REDIS_DOWN, Backoff
from workers.gallery import VectorIndex
from workers.gallery.unknowns import UnknownFaces

log = logging.getLogger(__name__)
# how long into an outage a file's frames wait for Milvus: longer than a restart of milvus-lite
# (5 s measured; `run` retries a failed restart with backoff up to 30 s), bounded for a run
# pointed at a Milvus that never answers
FILE_WAIT_S = 60.0


class GallerySearch:
    def __init__(self, top_k: int):
        self.top_k = top_k
        self._backoff = Backoff(0.5, 10.0)
        self._retry_at = 0.0
        self.unsearched = 0  # embeddings not searched while Milvus was unreachable
        self.down_since: float | None = None  # wall time of the first failure of an outage

    def search(
        self,
        index_for: Callable[[str], VectorIndex],
        unknowns_for: Callable[[str], UnknownFaces] | None,
        model: str,
        vectors: np.ndarray,
    ) -> list[dict[str, float]] | None:
        """Best score per person for each vector; None while Milvus is unreachable (retried
        with backoff)."""
        if time.monotonic() < self._retry_at:
            self.unsearched += len(vectors)
            return None
        index = None
        try:
            # connecting is part of the outage too: a Milvus away at start fails here, not in search
            index = index_for(model)
            found = index.search(vectors, self.top_k)
        except REDIS_DOWN:
            raise
        except Exception as exc:  # pymilvus raises MilvusException and gRPC errors of many kinds
            self.unsearched += len(vectors)
            if index is not None:
                index.invalidate()
            self._reload_unknowns(unknowns_for, model)
            self._failed("search", exc)
            return None
        self._back()
        return found

    def unknown_label(
        self,
        unknowns_for: Callable[[str], UnknownFaces] | None,
        model: str,
        embedding: np.ndarray,
        where: tuple[str, float],
        exclude: set[str],
    ) -> str | None:
        """A stable label for a stranger seen at ``where`` (camera, time), none of ``exclude``
        (the labels of tracks on screen with it); None while Milvus is away."""
        if unknowns_for is None or time.monotonic() < self._retry_at:
            return None
        try:
            return unknowns_for(model).label_for(embedding, where[0], where[1], exclude)
        except REDIS_DOWN:
            raise
        except Exception as exc:  # noqa: BLE001 - the same outage as a failed search
            self._reload_unknowns(unknowns_for, model)
            self._failed("unknown-face lookup", exc)
            return None

    def worth_waiting(self) -> bool:
        """Whether Milvus is away, for less than ``FILE_WAIT_S`` so far."""
        return self.down_since is not None and time.time() - self.down_since < FILE_WAIT_S

    def health(self) -> dict:
        """For the health key: `status` and `run` show an unreachable Milvus."""
        if self.down_since is None:
            return {}
        return {
            "problem": "Milvus unreachable: live tracks flow unnamed, file frames wait; names "
            "once it is back",
            "problem_since": self.down_since,
        }

    def _reload_unknowns(
        self, unknowns_for: Callable[[str], UnknownFaces] | None, model: str
    ) -> None:
        """A restarted Milvus has every collection released: load the unknown faces' again on
        next use too, or it fails once more after the gallery's search is back."""
        if unknowns_for is None:
            return
        try:
            unknowns_for(model).invalidate()
        except Exception:  # noqa: BLE001 - not connected yet: it loads on first use anyway
            log.debug("unknown faces of %s not opened yet", model)

    def _failed(self, what: str, exc: Exception) -> None:
        """An outage, not the frame's fault: Milvus is retried later."""
        delay = self._backoff.next_delay()
        self._retry_at = time.monotonic() + delay
        if self.down_since is None:
            self.down_since = time.time()
        log.warning(
            "Milvus %s failed (%s: %s): live tracks stay unnamed, file frames wait; retrying "
            "in %.1f s",
            what,
            type(exc).__name__,
            str(exc)[:200],
            delay,
        )

    def _back(self) -> None:
        if self._backoff.attempts:
            log.warning("Milvus answers again after %d failed attempt(s)", self._backoff.attempts)
            self._backoff.reset()
        self.down_since = None
