"""Helpers of the tests that SIGKILL parts of a real file run: progress, processes, counters."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from workers import keys


def frames_done(client: redis.Redis, camera: str) -> int:
    """Frames done in the camera's current run (the one its grabber registered last)."""
    run = client.hget(keys.camera_info(camera), "run")
    return int(client.hget(keys.progress(camera, run.decode()), "done") or 0) if run else 0


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie that nobody reaped yet does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stage_counter(client: redis.Redis, name: str) -> int:
    """A counter (``processed``, ``superseded``, ...) summed over every worker's stats hash."""
    return sum(int(client.hget(key, name) or 0) for key in client.scan_iter(keys.stats("*")))


def busy_worker(client: redis.Redis, kind: str, stream: str, group: str) -> int | None:
    """The pid of a running worker of ``kind`` that holds an unacked entry of ``stream``
    (mid-batch); a killed one's health key and pending entries linger."""
    for key in client.scan_iter(keys.health_pattern(kind)):
        info = json.loads(client.get(key) or "{}")
        if not running(int(info.get("pid", 0))):
            continue
        consumer = f"{info.get('host')}-{info.get('pid')}"
        if client.xpending_range(stream, group, "-", "+", 1, consumername=consumer):
            return int(info["pid"])
    return None
