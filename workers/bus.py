"""The bus: Redis Streams with consumer groups, and an in-memory twin for handler unit tests.

Only the few stream operations the runtime needs; payloads are opaque bytes
stored in the entry field ``m``. A payload of ``None`` means the entry was
trimmed (MAXLEN) while still pending: XAUTOCLAIM/XREADGROUP report it with nil
fields, and the runtime counts and acks it.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Protocol

import redis
from redis.cluster import RedisCluster
from redis.crc import key_slot

from workers.replies import stream_reply

log = logging.getLogger(__name__)
FIELD = b"m"
# a Redis Cluster reads one slot per XREADGROUP: after a sweep of every slot found nothing, a
# worker waits this long on one slot (each in turn), so an entry on another waits at most this
SWEEP_WAIT_MS = 20


@dataclass(frozen=True)
class Entry:
    stream: str
    id: str
    payload: bytes | None


class Bus(Protocol):
    def publish(self, stream: str, payload: bytes, maxlen: int | None = None) -> str: ...
    def publish_many(self, items: list[tuple[str, bytes, int | None]]) -> list[str]: ...
    def ensure_group(self, stream: str, group: str) -> None: ...
    def read(
        self,
        streams: list[str],
        group: str,
        consumer: str,
        count: int,
        block_ms: int,
        own_pending: bool = False,
    ) -> list[Entry]: ...
    def ack(self, stream: str, group: str, ids: list[str]) -> None: ...
    def claim_idle(
        self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Entry]: ...
    def deliveries(self, stream: str, group: str, entry_id: str) -> int: ...


def _s(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisStreamBus:
    def __init__(self, client: redis.Redis):
        self.redis = client
        self._turn = 0  # which slot a cluster sweep starts at: each gets to go first in turn

    def publish(self, stream: str, payload: bytes, maxlen: int | None = None) -> str:
        return _s(self.redis.xadd(stream, {FIELD: payload}, maxlen=maxlen, approximate=True))

    def publish_many(self, items: list[tuple[str, bytes, int | None]]) -> list[str]:
        """Several (stream, payload, maxlen) in one round trip, in order (a pipeline, not a transaction)."""
        pipe = self.redis.pipeline(transaction=False)
        for stream, payload, maxlen in items:
            pipe.xadd(stream, {FIELD: payload}, maxlen=maxlen, approximate=True)
        return [_s(eid) for eid in pipe.execute()]

    def ensure_group(self, stream: str, group: str) -> None:
        try:
            # id "0": a group created after the producer started still sees every entry
            self.redis.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(
        self,
        streams: list[str],
        group: str,
        consumer: str,
        count: int,
        block_ms: int,
        own_pending: bool = False,
    ) -> list[Entry]:
        if not streams:
            return []
        start = "0" if own_pending else ">"  # "0": entries delivered to us and not acked yet
        block = None if own_pending else block_ms
        slots = self._by_slot(streams)
        if len(slots) == 1:
            return self._read(slots[0], start, group, consumer, count, block)
        self._turn += 1
        turn = [slots[(self._turn + i) % len(slots)] for i in range(len(slots))]
        entries: list[Entry] = []
        for part in turn:
            entries += self._read(part, start, group, consumer, count - len(entries), None)
            if len(entries) >= count:
                break
        if entries or block is None:
            return entries
        return self._read(turn[0], start, group, consumer, count, min(block, SWEEP_WAIT_MS))

    def _by_slot(self, streams: list[str]) -> list[list[str]]:
        """The streams in groups that one read may name: all of them, except on a cluster."""
        if not isinstance(self.redis, RedisCluster):
            return [streams]
        slots: dict[int, list[str]] = defaultdict(list)
        for stream in streams:
            slots[key_slot(stream.encode())].append(stream)
        return list(slots.values())

    def _read(
        self, streams: list[str], start: str, group: str, consumer: str, count: int, block
    ) -> list[Entry]:
        reply = self.redis.xreadgroup(
            group, consumer, {s: start for s in streams}, count=count, block=block
        )
        return [
            Entry(_s(name), _s(eid), (fields or {}).get(FIELD))
            for name, items in stream_reply(reply)
            for eid, fields in items
        ]

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        if ids:
            self.redis.xack(stream, group, *ids)

    def claim_idle(
        self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Entry]:
        reply = self.redis.xautoclaim(
            stream, group, consumer, min_idle_ms, start_id="0-0", count=count
        )
        claimed = reply[1] if len(reply) > 1 else []
        entries = [Entry(stream, _s(eid), (fields or {}).get(FIELD)) for eid, fields in claimed]
        # Redis 7+: ids of pending entries that no longer exist (trimmed) come back as the
        # third element and are already removed from the PEL by XAUTOCLAIM itself.
        deleted = reply[2] if len(reply) > 2 else []
        entries += [Entry(stream, _s(eid), None) for eid in deleted]
        return entries

    def deliveries(self, stream: str, group: str, entry_id: str) -> int:
        rows = self.redis.xpending_range(stream, group, min=entry_id, max=entry_id, count=1)
        return int(rows[0]["times_delivered"]) if rows else 0


@dataclass
class _Group:
    last: int = 0  # index of the next entry never delivered to this group
    pending: dict[str, tuple[str, int]] = field(
        default_factory=dict
    )  # id -> (consumer, deliveries)


class MemoryBus:
    """Single-process stand-in with the same semantics; for unit tests of handlers only."""

    def __init__(self) -> None:
        self.streams: dict[str, list[tuple[str, bytes]]] = defaultdict(list)
        self.groups: dict[tuple[str, str], _Group] = {}
        self._n = 0

    def publish(self, stream: str, payload: bytes, maxlen: int | None = None) -> str:
        self._n += 1
        eid = f"{self._n}-0"
        self.streams[stream].append((eid, payload))
        return eid

    def publish_many(self, items: list[tuple[str, bytes, int | None]]) -> list[str]:
        return [self.publish(stream, payload, maxlen) for stream, payload, maxlen in items]

    def ensure_group(self, stream: str, group: str) -> None:
        self.groups.setdefault((stream, group), _Group())

    def read(
        self,
        streams: list[str],
        group: str,
        consumer: str,
        count: int,
        block_ms: int,
        own_pending: bool = False,
    ) -> list[Entry]:
        out: list[Entry] = []
        if own_pending:
            for s in streams:
                payloads = dict(self.streams[s])
                g = self.groups[(s, group)]
                for eid, (who, n) in list(g.pending.items()):
                    if who == consumer and len(out) < count:
                        g.pending[eid] = (who, n + 1)
                        out.append(Entry(s, eid, payloads.get(eid)))
            return out
        for s in streams:
            g = self.groups[(s, group)]
            for eid, payload in self.streams[s][g.last : g.last + count - len(out)]:
                g.last += 1
                g.pending[eid] = (consumer, 1)
                out.append(Entry(s, eid, payload))
        return out

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        for eid in ids:
            self.groups[(stream, group)].pending.pop(eid, None)

    def claim_idle(
        self, stream: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[Entry]:
        g = self.groups[(stream, group)]
        payloads = dict(self.streams[stream])
        out = []
        for eid, (_, n) in list(g.pending.items())[:count]:
            g.pending[eid] = (consumer, n + 1)
            out.append(Entry(stream, eid, payloads.get(eid)))
        return out

    def deliveries(self, stream: str, group: str, entry_id: str) -> int:
        return self.groups[(stream, group)].pending.get(entry_id, ("", 0))[1]
