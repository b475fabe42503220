"""What the streams and consumer groups look like right now (for status and queue-lag metrics)."""

from __future__ import annotations

import redis

from workers import keys


def _s(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def streams(client: redis.Redis) -> list[str]:
    """Every facestream stream (frames of each camera, the stage streams, results, dead letters)."""
    return sorted(
        _s(k) for k in client.scan_iter(match=f"{keys.PREFIX}:*", count=500, _type="STREAM")
    )


def groups(client: redis.Redis, stream: str, only: str | None = None) -> list[dict]:
    """XINFO GROUPS as rows: stream, group, lag (None where the server cannot tell), pending, consumers."""
    try:
        rows = client.xinfo_groups(stream)
    except redis.ResponseError:  # no such stream yet
        return []
    out = []
    for row in rows:
        name = _s(row["name"])
        if only is not None and name != only:
            continue
        lag = row.get("lag")
        out.append(
            {
                "stream": stream,
                "group": name,
                "lag": None if lag is None else int(lag),
                "pending": int(row["pending"]),
                "consumers": int(row["consumers"]),
            }
        )
    return out


def consumers(client: redis.Redis, stream: str, group: str) -> list[dict]:
    """XINFO CONSUMERS: name, pending, idle ms."""
    try:
        rows = client.xinfo_consumers(stream, group)
    except redis.ResponseError:
        return []
    return [
        {"name": _s(r["name"]), "pending": int(r["pending"]), "idle_ms": int(r["idle"])}
        for r in rows
    ]
