"""The record of a running embedded server in ``<data_dir>/stack/<name>.json`` (0600), by which
other facestream processes find it, and the guard against a recycled pid."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from facestream.servers import Server, write_private

log = logging.getLogger(__name__)


def load_record(path: Path) -> Server | None:
    try:
        data = json.loads(path.read_text())
        return Server(str(data["name"]), int(data["pid"]), int(data["port"]), str(data["url"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable stack record %s: %s", path, exc)
        return None


def save_record(path: Path, server: Server, owner: int | None = None) -> None:
    """``owner``: the pid of the command that looks after the server (restarts it, stops it when
    it exits); None for servers that outlive every command (``up``'s)."""
    write_private(path, json.dumps({**server.record(), "owner": owner}))


def load_owner(path: Path) -> int | None:
    """The recorded server's owner (see ``save_record``); None when it has none or it is not
    known (a record written before owners were)."""
    try:
        owner = json.loads(path.read_text()).get("owner")
        return int(owner) if owner is not None else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None


def cmdline_matches(pid: int, needle: str) -> bool:
    """Whether ``pid`` looks like our server (guards against pid reuse); True where /proc is absent."""
    proc = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self").exists():
        return True
    try:
        return needle in proc.read_bytes().decode(errors="replace")
    except OSError:
        return False
