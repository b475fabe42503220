"""The results streams as their readers see them: one per shard (workers/keys.py), merged.

A reader's ``Position`` is the last id it has seen in each shard's stream. As text (the SSE
event id a client resumes from) it is that one id with one shard, so nothing changes on a
single Redis, else the shards' ids joined by ',' in shard order. Entries of one read are
handed out in id order (Redis' clock in ms, so roughly the order they were written in); each
shard's own order is exact, and so is resuming from a position.

On a Redis Cluster each shard's stream is in a slot of its own and one XREAD names one slot:
a read sweeps the shards without waiting, then, when none had anything, waits briefly on one
of them (each in turn), so a new record waits at most ``SWEEP_WAIT_MS`` on another shard.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator
from typing import Any

import redis.asyncio.cluster as async_cluster
from redis.cluster import RedisCluster

from workers import keys
from workers.replies import stream_entries, stream_reply, text

STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
SWEEP_WAIT_MS = 50
PAGE = 5000  # entries per XRANGE call: a 200,000-entry stream is read in 40 round trips
# (stream, entry id, fields)
Record = tuple[str, str, dict]


def streams() -> list[str]:
    return keys.every_shard(keys.RESULTS)


def order(entry_id: str) -> tuple[int, int]:
    """An entry id as a sortable pair: ``1700000000000-3`` -> (1700000000000, 3)."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class Position:
    """Where a reader is in every shard's results stream."""

    def __init__(self, ids: dict[str, str]):
        self.ids = ids
        self.turn = 0  # which shard a sweep on a cluster starts at and waits on

    @classmethod
    def at(cls, entry_id: str) -> Position:
        """Every shard at the same id ("0-0": from the start)."""
        return cls({s: entry_id for s in streams()})

    @classmethod
    def parse(cls, token: str) -> Position:
        """A position as ``str()`` gives it; ValueError saying what was expected otherwise."""
        names = streams()
        ids = token.split(",")
        if len(ids) != len(names) or not all(STREAM_ID.fullmatch(i) for i in ids):
            example = ",".join(["1700000000000-0"] * len(names))
            raise ValueError(
                f"expected {len(names)} stream id(s) like {example}, got {token[:80]!r}"
            )
        return cls(dict(zip(names, ids, strict=True)))

    def __str__(self) -> str:
        return ",".join(self.ids[s] for s in streams())

    def passed(self, record: Record) -> None:
        """The reader has handed ``record`` out: resume after it."""
        self.ids[record[0]] = record[1]


def newest(client) -> Position:
    """Each shard at its last id so far: a reader from here sees only what comes next."""
    return Position({s: _last_id(client, s) for s in streams()})


def _last_id(client, stream: str) -> str:
    # the last id ever given, not the last entry's: an entry deleted since must not come back
    if not client.exists(stream):
        return "0-0"
    return text(client.xinfo_stream(stream)["last-generated-id"])


async def newest_async(client) -> Position:
    ids = {}
    for stream in streams():
        exists = await client.exists(stream)
        ids[stream] = (
            text((await client.xinfo_stream(stream))["last-generated-id"]) if exists else "0-0"
        )
    return Position(ids)


def _merged(reply: Any) -> list[Record]:
    records = [
        (text(name), text(eid), fields or {})
        for name, entries in stream_reply(reply)
        for eid, fields in entries
    ]
    return sorted(records, key=lambda r: order(r[1]))


def _one_slot_each(client) -> bool:
    return isinstance(client, RedisCluster | async_cluster.RedisCluster) and len(streams()) > 1


def read(client, position: Position, count: int = 500, block_ms: int | None = None) -> list[Record]:
    """The records after ``position``, up to ``count`` per shard, waiting up to ``block_ms``
    (None: not at all) for one. The caller moves the position with ``passed``."""
    if not _one_slot_each(client):
        return _merged(client.xread(dict(position.ids), count=count, block=block_ms))
    found: list[Record] = []
    for stream in _turn(position):
        found += _merged(client.xread({stream: position.ids[stream]}, count=count))
    if found or block_ms is None:
        return sorted(found, key=lambda r: order(r[1]))
    stream = _turn(position)[0]
    wait = min(block_ms, SWEEP_WAIT_MS)
    return _merged(client.xread({stream: position.ids[stream]}, count=count, block=wait))


async def read_async(
    client, position: Position, count: int = 500, block_ms: int | None = None
) -> list[Record]:
    """``read`` for an asyncio client."""
    if not _one_slot_each(client):
        return _merged(await client.xread(dict(position.ids), count=count, block=block_ms))
    found: list[Record] = []
    for stream in _turn(position):
        found += _merged(await client.xread({stream: position.ids[stream]}, count=count))
    if found or block_ms is None:
        return sorted(found, key=lambda r: order(r[1]))
    stream = _turn(position)[0]
    wait = min(block_ms, SWEEP_WAIT_MS)
    return _merged(await client.xread({stream: position.ids[stream]}, count=count, block=wait))


def _turn(position: Position) -> list[str]:
    names = streams()
    position.turn += 1
    return [names[(position.turn + i) % len(names)] for i in range(len(names))]


def scan(client, start: str = "-") -> Iterator[Record]:
    """Every record still held from ``start`` (an id, or "-") on, all shards merged in id order;
    read a page at a time, so a long stream is never held in memory."""
    return heapq.merge(*(_pages(client, s, start) for s in streams()), key=lambda r: order(r[1]))


def _pages(client, stream: str, start: str) -> Iterator[Record]:
    while True:
        entries = stream_entries(client.xrange(stream, min=start, max="+", count=PAGE))
        for eid, fields in entries:
            yield stream, text(eid), fields
        if len(entries) < PAGE:
            return
        start = "(" + text(entries[-1][0])  # exclusive: the next page starts after this id
