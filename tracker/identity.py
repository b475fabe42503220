"""Name a track by voting over all its embeddings, with hysteresis.

One embedding can be blurred, profile or half occluded; a single bad match must
neither name a track nor rename it. So each person's score is the running mean
over every observation of the track, and naming, switching and dropping use
``threshold`` and ``margin`` as a hysteresis band.
"""

from __future__ import annotations

import logging
import math

from config.errors import ConfigError, MessageError

logger = logging.getLogger(__name__)


class IdentityVote:
    def __init__(self, threshold: float, margin: float) -> None:
        if not math.isfinite(threshold):
            raise ConfigError(f"threshold: expected a finite cosine similarity, got {threshold!r}")
        if not (math.isfinite(margin) and margin >= 0):
            raise ConfigError(f"margin: expected a finite value >= 0, got {margin!r}")
        self.threshold = threshold
        self.margin = margin
        self._n = 0
        # A person absent from an observation scores that observation's floor (its
        # lowest given score, 0.0 if empty). Keeping the summed floors plus each
        # person's excess over the floor makes a person first seen late still get
        # the floor for every earlier observation, without storing the history.
        self._floor_sum = 0.0
        self._excess: dict[str, float] = {}
        self._person: str | None = None

    @property
    def person_id(self) -> str | None:
        return self._person

    @property
    def observations(self) -> int:
        return self._n

    @property
    def means(self) -> dict[str, float]:
        """Mean score of every person seen so far."""
        if not self._n:
            return {}
        return {p: (self._floor_sum + e) / self._n for p, e in self._excess.items()}

    @property
    def score(self) -> float:
        """Mean of the named person, or of the best person while unknown (0.0 before any)."""
        means = self.means
        if self._person is not None:
            return means[self._person]
        return max(means.values(), default=0.0)

    def state(self) -> list:
        """What the vote has learnt, as plain values (the matcher keeps it across restarts)."""
        return [self._n, self._floor_sum, dict(self._excess), self._person]

    def restore(self, state: list) -> IdentityVote:
        """Take back what ``state()`` gave; ``threshold`` and ``margin`` stay this vote's own."""
        n, floor_sum, excess, person = state
        self._n, self._floor_sum, self._excess, self._person = (
            int(n),
            float(floor_sum),
            {str(k): float(v) for k, v in excess.items()},
            person,
        )
        return self

    def add(self, scores: dict[str, float], held: dict[str, float] | None = None) -> bool:
        """Take one observation (best similarity per person); True when ``person_id`` changed.

        ``held``: the people that other faces on screen at the same time are, with their score.
        Two faces seen together are two people (a cannot-link constraint): a person held with a
        score at least this track's mean for them is not this track's to take, and a track that
        held them loses them."""
        for person, s in scores.items():
            if not math.isfinite(s):
                raise MessageError(f"scores[{person!r}]: expected a finite similarity, got {s!r}")
        floor = min(scores.values(), default=0.0)
        self._n += 1
        self._floor_sum += floor
        for person, s in scores.items():
            self._excess[person] = self._excess.get(person, 0.0) + (s - floor)
        before = self._person
        means = self.means
        taken = {p for p, s in (held or {}).items() if s >= means.get(p, math.inf)}
        if self._person in taken:
            self._person = None
        self._person = self._decide({p: m for p, m in means.items() if p not in taken})
        if self._person != before:
            logger.debug("identity: %s -> %s after %d observations", before, self._person, self._n)
        return self._person != before

    def forfeit(self, person: str) -> None:
        """Another face on screen at the same time is ``person``, with a higher score: not this one."""
        if self._person == person:
            logger.debug("identity: %s forfeited to a better face beside it", person)
            self._person = None

    def _decide(self, means: dict[str, float]) -> str | None:
        ranked = sorted(means.items(), key=lambda kv: kv[1], reverse=True)
        if not ranked:
            return self._person
        best, best_mean = ranked[0]
        current = self._person
        if current is None:
            # Only one candidate: nobody to keep a margin from.
            second_mean = ranked[1][1] if len(ranked) > 1 else -math.inf
            if best_mean >= self.threshold and best_mean - second_mean >= self.margin:
                return best
            return None
        current_mean = means[current]
        if (
            best != current
            and best_mean >= self.threshold
            and best_mean - current_mean > self.margin
        ):
            return best
        if current_mean < self.threshold - self.margin:
            return None
        return current
