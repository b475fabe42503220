"""Who was seen when: the summary table of a run, computed from its result records."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rich.markup import escape
from rich.table import Table


@dataclass
class SeenRow:
    name: str
    camera: str
    first_ts: float
    last_ts: float
    seconds: float  # named frames / fps
    tracks: int


def summarize(records: list[dict], fps: dict[str, float]) -> list[SeenRow]:
    frames: dict[tuple[str, str], set[int]] = {}
    first: dict[tuple[str, str], float] = {}
    last: dict[tuple[str, str], float] = {}
    tracks: dict[tuple[str, str], set[str]] = {}
    for r in records:
        if "event" in r or not r.get("name"):
            continue
        key = (r["name"], r["camera"])
        frames.setdefault(key, set()).add(r["frame"])
        tracks.setdefault(key, set()).add(r["track_id"])
        first[key] = min(first.get(key, r["ts"]), r["ts"])
        last[key] = max(last.get(key, r["ts"]), r["ts"])
    rows = [SeenRow(name, cam, first[(name, cam)], last[(name, cam)], len(f) / fps.get(cam, 25.0),
                    len(tracks[(name, cam)])) for (name, cam), f in frames.items()]
    return sorted(rows, key=lambda r: (r.camera, r.first_ts, r.name))


def _when(ts: float) -> str:
    if ts > 1e9:  # live sources carry wall-clock epoch seconds
        return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    minutes, seconds = divmod(ts, 60)
    return f"{int(minutes)}:{seconds:05.2f}"


def summary_table(rows: list[SeenRow]) -> Table:
    table = Table(title="Who was seen")
    for column in ("person", "camera", "first seen", "last seen", "on screen (s)", "tracks"):
        table.add_column(column, justify="right" if column in ("on screen (s)", "tracks") else "left",
                         overflow="fold")
    for r in rows:
        table.add_row(escape(r.name), escape(r.camera), _when(r.first_ts), _when(r.last_ts), f"{r.seconds:.1f}", str(r.tracks))
    return table
