"""Health keys: every long-lived process says it is alive, and one definition of alive.

A worker (detect, track, embed, match) or a grabber process (``ingest``) sets
``fs:health:{kind}:{host}-{pid}`` (JSON: pid, host, kind, time and its own
figures) with a TTL of ``health_ttl_s`` and refreshes it every third of that,
and deletes it when it stops. Readers ask :func:`workers` for a state each:

- ``dead``: the key is on this host and its pid is gone (SIGKILL, OOM): known at
  once instead of after the TTL;
- ``late``: the key expires within ``LATE_S``: it missed two refreshes;
- ``alive``: otherwise.

``up``, ``scale``, ``run`` (how many of a kind already run), ``status`` and
``worker --check`` all count ``alive`` only.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import redis

from workers import keys

LATE_S = 2


def consumer_name() -> str:
    """This process's name in health keys and consumer groups."""
    return f"{socket.gethostname()}-{os.getpid()}"


def refresh_s(ttl_s: float) -> float:
    """How often a key of TTL ``ttl_s`` is refreshed: it survives two missed refreshes."""
    return max(1.0, ttl_s / 3)


def beat(client: redis.Redis, kind: str, consumer: str, ttl_s: int, **figures: object) -> None:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "kind": kind,
        "time": time.time(),
        **figures,
    }
    client.set(keys.health(kind, consumer), json.dumps(info), ex=ttl_s)


def clear(client: redis.Redis, kind: str, consumer: str) -> None:
    client.delete(keys.health(kind, consumer))


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that exited and was not reaped yet still answers signal 0: a worker whose parent
    was killed is reaped by init only when init gets to it (seconds, in some containers)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no /proc (not Linux), or gone meanwhile
        return False
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def workers(client: redis.Redis, kind: str = "*", now: float | None = None) -> list[dict]:
    """Every process with a health key: its JSON plus ``consumer``, ``state`` and ``age_s``."""
    now = time.time() if now is None else now
    here = socket.gethostname()
    out = []
    for key in client.scan_iter(match=keys.health_pattern(kind), count=200):
        raw = client.get(key)
        if not raw:
            continue
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        info["consumer"] = key.decode().split(":", 3)[3]
        info["age_s"] = round(now - float(info.get("time", 0)), 1)
        ttl = client.ttl(key)
        if info.get("host") == here and not pid_alive(int(info.get("pid", 0))):
            info["state"] = "dead"
        elif ttl is not None and 0 <= ttl < LATE_S:
            info["state"] = "late"
        else:
            info["state"] = "alive"
        out.append(info)
    return sorted(out, key=lambda i: (i.get("kind", ""), i["consumer"]))


def alive(client: redis.Redis, kind: str = "*") -> list[dict]:
    return [w for w in workers(client, kind) if w["state"] == "alive"]


def check(client: redis.Redis, kind: str, any_host: bool = False) -> tuple[bool, str]:
    """Whether a live process of ``kind`` runs on this host (or anywhere), and a one-line reason."""
    here = socket.gethostname()
    found = [w for w in workers(client, kind) if any_host or w.get("host") == here]
    live = [w for w in found if w["state"] == "alive"]
    where = "anywhere" if any_host else f"on {here}"
    if live:
        return True, f"{len(live)} {kind} worker(s) alive {where}: " + ", ".join(
            w["consumer"] for w in live
        )
    if found:
        return False, f"{kind} worker(s) {where} not alive: " + ", ".join(
            f"{w['consumer']} ({w['state']})" for w in found
        )
    return False, f"no {kind} worker has a health key {where}"


def problems(client: redis.Redis, kind: str = "*") -> list[str]:
    """What live processes say they cannot reach (their ``problem`` figure), each said once."""
    return sorted({str(w["problem"]) for w in alive(client, kind) if w.get("problem")})
