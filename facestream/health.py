"""Health keys -> answers: which workers are alive, and `facestream worker KIND --check`.

Every worker refreshes ``fs:health:{kind}:{host}-{pid}`` (JSON, TTL
``health_ttl_s``) a few times per TTL. A key that exists is a worker that was
alive less than a TTL ago; on the same host we also ask the kernel, so a worker
killed with SIGKILL shows as dead at once instead of after its TTL.
"""

from __future__ import annotations

import json
import socket
import time

import redis

from facestream.servers import pid_alive
from workers import keys


def workers(client: redis.Redis, kind: str = "*", now: float | None = None) -> list[dict]:
    """Every worker with a health key: its JSON plus ``state`` (alive, late, dead) and ``age_s``."""
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
        name = key.decode().split(":", 3)[3]
        info["consumer"] = name
        info["age_s"] = round(now - float(info.get("time", 0)), 1)
        ttl = client.ttl(key)
        if info.get("host") == here and not pid_alive(int(info.get("pid", 0))):
            info["state"] = "dead"
        elif ttl is not None and 0 <= ttl < 2:
            info["state"] = "late"
        else:
            info["state"] = "alive"
        out.append(info)
    return sorted(out, key=lambda i: (i.get("kind", ""), i["consumer"]))


def check(client: redis.Redis, kind: str, any_host: bool = False) -> tuple[bool, str]:
    """Whether a live worker of ``kind`` runs on this host (or anywhere), and a one-line reason."""
    here = socket.gethostname()
    found = [w for w in workers(client, kind) if any_host or w.get("host") == here]
    alive = [w for w in found if w["state"] == "alive"]
    where = "anywhere" if any_host else f"on {here}"
    if alive:
        return True, f"{len(alive)} {kind} worker(s) alive {where}: " + ", ".join(w["consumer"] for w in alive)
    if found:
        return False, f"{kind} worker(s) {where} not alive: " + ", ".join(f"{w['consumer']} ({w['state']})" for w in found)
    return False, f"no {kind} worker has a health key {where}"
