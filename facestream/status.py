"""`facestream status`: streams, consumer groups, workers, stages, drops, cameras -- one snapshot.

Everything comes from Redis (stream and group info, health keys, progress
hashes, camera hashes) plus supervisord's process list when a stack is up, so
it works from any host that reaches the Redis. Source URLs are shown redacted;
nothing here carries a password or a token.
"""

from __future__ import annotations

import time

import redis
from rich.console import Group, RenderableType
from rich.table import Table

from config.redact import redact_url, scrub
from facestream import camera_urls
from workers import health, keys, queues
from workers.progress import Counts, RunProgress
from workers.replies import text, texts

STAGES = ("detect", "track", "embed", "match")


def _d(mapping: dict) -> dict[str, str]:
    return {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in mapping.items()
    }


def _num(value, default=0):
    try:
        return float(value) if "." in str(value) else int(value)
    except (TypeError, ValueError):
        return default


def gather(client: redis.Redis, processes: list[dict] | None = None) -> dict:
    now = time.time()
    names = queues.streams(client)
    streams = [{"stream": s, "length": client.xlen(s)} for s in names]
    groups = [g for s in names for g in queues.groups(client, s)]
    workers = health.workers(client, now=now)
    alive = {w["consumer"] for w in workers if w["state"] == "alive"}
    for g in groups:
        g["consumer_list"] = [
            {**c, "live": c["name"] in alive}
            for c in queues.consumers(client, g["stream"], g["group"])
        ]
    stages = {}
    for stage in STAGES:
        mine = [w for w in workers if w.get("kind") == stage and w["state"] == "alive"]
        timed = [w for w in mine if w.get("stage_ms") is not None]
        stats = [
            _d(client.hgetall(k))
            for k in client.scan_iter(match=keys.stats(f"{stage}:*"), count=200)
        ]
        stages[stage] = {
            "workers": len(mine),
            "fps": round(sum(float(w.get("fps") or 0) for w in mine), 2),
            "stage_ms": round(sum(w["stage_ms"] for w in timed) / len(timed), 1) if timed else None,
            "latency_ms": round(sum(w["latency_ms"] for w in timed) / len(timed), 1)
            if timed
            else None,
            "processed": sum(_num(s.get("processed")) for s in stats),
            "errors": sum(_num(s.get("errors")) for s in stats),
            "dead_letters": sum(_num(s.get("dead_letters")) for s in stats),
            "trimmed": sum(_num(s.get("trimmed")) for s in stats),
            "stale": sum(_num(s.get("stale")) for s in stats),
        }
    cameras: list[dict] = []
    drops: dict[str, int] = {}
    for name in sorted(texts(client.smembers(keys.CAMERAS))):
        info = _d(client.hgetall(keys.camera_info(name)))
        progress = RunProgress(client, name, info["run"]).read() if info.get("run") else Counts()
        for reason, n in progress.dropped.items():
            drops[reason] = drops.get(reason, 0) + n
        cameras.append(
            {
                "camera": name,
                "state": info.get("state", "unknown"),
                "source": redact_url(info.get("source", "")),
                "fps": _num(info.get("fps"), None),
                "published": progress.published,
                "done": progress.done,
                "total": _num(info.get("total"), None),
                "dropped": dict(progress.dropped),
            }
        )
    configured = set(client.hkeys(keys.CAMERA_SOURCES))
    known = {c["camera"] for c in cameras}
    for name in sorted(texts(configured)):
        if name not in known:
            cameras.append(
                {
                    "camera": name,
                    "state": "starting",
                    "source": camera_urls.shown(
                        text(client.hget(keys.CAMERA_SOURCES, name) or b"")
                    ),
                    "fps": None,
                    "published": 0,
                    "done": 0,
                    "total": None,
                    "dropped": {},
                }
            )
    trimmed = sum(s["trimmed"] for s in stages.values())
    if trimmed:
        drops["trimmed_while_pending"] = trimmed
    return {
        "time": now,
        "streams": streams,
        "groups": groups,
        "workers": [
            {
                k: w.get(k)
                for k in (
                    "kind",
                    "consumer",
                    "host",
                    "pid",
                    "state",
                    "age_s",
                    "fps",
                    "stage_ms",
                    "latency_ms",
                    "processed",
                    "metrics",
                )
            }
            for w in workers
        ],
        "stages": stages,
        "drops": drops,
        "stale_drops": max(
            sum(n for r, n in drops.items() if "stale" in r),
            sum(v["stale"] for v in stages.values()),
        ),
        "dead_letters": client.xlen(keys.DEAD) if client.exists(keys.DEAD) else 0,
        "cameras": cameras,
        "metrics_endpoints": sorted(w["metrics"] for w in workers if w.get("metrics")),
        "processes": processes or [],
        "problems": sorted(
            {str(w["problem"]) for w in workers if w["state"] == "alive" and w.get("problem")}
        ),
    }


def _table(title: str, columns: list[str], rows: list[list]) -> Table:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*["" if v is None else scrub(str(v)) for v in row])
    return table


def render(s: dict) -> Group:
    parts: list[RenderableType] = [
        _table("Streams", ["stream", "length"], [[r["stream"], r["length"]] for r in s["streams"]]),
        _table(
            "Consumer groups",
            ["stream", "group", "lag", "pending", "consumers"],
            [
                [
                    g["stream"],
                    g["group"],
                    g["lag"],
                    g["pending"],
                    ", ".join(
                        c["name"] + ("" if c["live"] else " (gone)") for c in g["consumer_list"]
                    ),
                ]
                for g in s["groups"]
            ],
        ),
        _table(
            "Stages",
            [
                "stage",
                "live workers",
                "frames/s",
                "ms/frame",
                "latency ms",
                "processed",
                "errors",
                "dead letters",
            ],
            [
                [
                    k,
                    v["workers"],
                    v["fps"],
                    v["stage_ms"],
                    v["latency_ms"],
                    v["processed"],
                    v["errors"],
                    v["dead_letters"],
                ]
                for k, v in s["stages"].items()
            ],
        ),
        _table(
            "Workers",
            ["kind", "consumer", "state", "age s", "frames/s", "ms/frame", "metrics"],
            [
                [
                    w["kind"],
                    w["consumer"],
                    w["state"],
                    w["age_s"],
                    w["fps"],
                    w["stage_ms"],
                    w["metrics"],
                ]
                for w in s["workers"]
            ],
        ),
        _table(
            "Cameras",
            ["camera", "state", "source", "published", "done", "total", "dropped"],
            [
                [
                    c["camera"],
                    c["state"],
                    c["source"],
                    c["published"],
                    c["done"],
                    c["total"],
                    ", ".join(f"{k} {v}" for k, v in c["dropped"].items()),
                ]
                for c in s["cameras"]
            ],
        ),
    ]
    if s["processes"]:
        parts.append(
            _table(
                "Supervised processes",
                ["name", "state", "pid", "uptime s"],
                [[p["name"], p["state"], p["pid"], p["uptime_s"]] for p in s["processes"]],
            )
        )
    parts += [f"problem: {p}" for p in s["problems"]]  # e.g. Milvus unreachable, from the matcher
    drops = ", ".join(f"{k} {v}" for k, v in s["drops"].items()) or "none"
    parts.append(
        f"drops: {drops}; stale drops: {s['stale_drops']}; dead letters: {s['dead_letters']}"
    )
    return Group(*parts)
