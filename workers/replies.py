"""Redis replies as our clients receive them, typed in one place.

redis-py types a reply as ``bytes | str`` (a client may decode responses) and a stream read as a
union of shapes. Our clients never decode (payloads are binary msgpack), so keys and values come
back as bytes; these helpers narrow the union once instead of a cast at every read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias, cast

from redis.typing import EncodableT, FieldT

# one stream entry: (entry id, {field: value})
StreamEntry: TypeAlias = tuple[bytes, dict[bytes, bytes]]
# XREAD / XREADGROUP: [(stream name, [entry, ...]), ...]
StreamReply: TypeAlias = list[tuple[bytes, list[StreamEntry]]]
# what HSET's mapping accepts (Mapping's key type is invariant, so a dict[str, ...] is refused)
HashFields: TypeAlias = Mapping[FieldT, EncodableT]


def text(value: bytes | str) -> str:
    """A reply's key or value as text."""
    return value.decode() if isinstance(value, bytes) else value


def text_or_none(value: bytes | str | None) -> str | None:
    """A reply that is absent (HGET of a missing field) stays None; an empty one too."""
    return text(value) if value else None


def texts(values: Iterable[bytes | str]) -> list[str]:
    return [text(v) for v in values]


def text_map(mapping: Mapping[Any, Any]) -> dict[str, str]:
    """HGETALL as {field: value} text."""
    return {text(k): text(v) for k, v in mapping.items()}


def stream_reply(reply: Any) -> StreamReply:
    """An XREAD / XREADGROUP reply; None (a block that timed out) is no entries."""
    return cast(StreamReply, reply or [])


def stream_entries(reply: Any) -> list[StreamEntry]:
    """An XRANGE / XREVRANGE reply."""
    return cast(list[StreamEntry], reply or [])


def hash_fields(mapping: Mapping[str, Any]) -> HashFields:
    """A {field: value} dict for HSET; redis-py encodes str, bytes, int and float values."""
    return cast(HashFields, mapping)
