"""Capped exponential backoff with jitter, for reconnecting to anything (Redis, Milvus, cameras)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from redis import exceptions as redis_errors

from config.errors import ConfigError

# What a lost or restarting Redis raises; a command may have been applied or not (at-least-once
# covers it). redis-py wraps its socket errors in these, so a bare OSError never means Redis: it
# is a handler's own failure (a file it cannot read), retried and dead-lettered like any other.
REDIS_DOWN: tuple[type[Exception], ...] = (
    redis_errors.ConnectionError,
    redis_errors.TimeoutError,
    redis_errors.BusyLoadingError,
)


@dataclass
class Backoff:
    """``next_delay()`` gives initial, 2x, 4x ... up to ``max_s``, each times a jitter in [1-j, 1+j]."""

    initial_s: float
    max_s: float
    jitter: float = 0.2
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ConfigError(
                f"backoff: expected 0 < initial_s <= max_s, got {self.initial_s} and {self.max_s}"
            )
        if not 0 <= self.jitter < 1:
            raise ConfigError(f"backoff jitter: expected 0 <= jitter < 1, got {self.jitter}")

    def next_delay(self) -> float:
        base = min(self.max_s, self.initial_s * 2 ** min(self.attempts, 30))
        self.attempts += 1
        return base * self.rng.uniform(1 - self.jitter, 1 + self.jitter)

    def reset(self) -> None:
        self.attempts = 0
