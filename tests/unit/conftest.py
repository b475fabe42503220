"""Unit-test fakes. The Redis tests (tests/integration) are the evidence; these keep handler tests fast."""

from __future__ import annotations

import pytest


class FakeRedis:
    """The few Redis calls MatchHandler makes, with Redis semantics (bits, hashes, its commit script)."""

    def __init__(self) -> None:
        self.bits: set[tuple[str, int]] = set()
        self.hashes: dict[str, dict[str, int]] = {}

    def getbit(self, key: str, offset: int) -> int:
        return int((key, int(offset)) in self.bits)

    def setbit(self, key: str, offset: int, value: int) -> int:
        old = self.getbit(key, offset)
        self.bits.add((key, int(offset)))
        return old

    def hincrby(self, key: str, field: str, n: int) -> None:
        self.hashes.setdefault(key, {})[field] = self.hashes.get(key, {}).get(field, 0) + n

    def hset(self, key: str, field: str, value: int) -> None:
        self.hashes.setdefault(key, {})[field] = value

    def hget(self, key: str, field: str) -> int | None:
        return self.hashes.get(key, {}).get(field)

    def expire(self, *args) -> None:
        pass

    def pipeline(self) -> FakeRedis:
        return self

    def execute(self) -> None:
        pass

    def register_script(self, _lua: str):
        """MatchHandler's only script: set the done bit; count done (and the drop reason) the first time."""

        def commit(keys: list[str], args: list) -> int:
            bits, progress = keys
            bit, reason = args
            if self.setbit(bits, bit, 1):
                return 0
            self.hincrby(progress, "done", 1)
            if reason:
                self.hincrby(progress, f"dropped:{reason}", 1)
            return 1

        return commit


@pytest.fixture
def fake_redis() -> FakeRedis:
    return FakeRedis()
