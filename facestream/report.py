"""Who was seen when: the summary table of a run, folded in from its result records."""

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


class Sightings:
    """Who was seen where, folded in one result record at a time: a live run of days keeps a few numbers
    per person and camera, never its records."""

    def __init__(self) -> None:
        self.records = 0
        self._frames: dict[
            tuple[str, str], int
        ] = {}  # named frames (a frame with two tracks counts once)
        self._newest: dict[
            tuple[str, str], int
        ] = {}  # newest frame counted (records come in frame order)
        self._first: dict[tuple[str, str], float] = {}
        self._last: dict[tuple[str, str], float] = {}
        self._tracks: dict[tuple[str, str], set[str]] = {}

    def add(self, r: dict) -> None:
        self.records += 1
        if "event" in r or not r.get("name"):
            return
        key = (r["name"], r["camera"])
        if r["frame"] > self._newest.get(key, -1):
            self._newest[key] = r["frame"]
            self._frames[key] = self._frames.get(key, 0) + 1
        self._tracks.setdefault(key, set()).add(r["track_id"])
        self._first[key] = min(self._first.get(key, r["ts"]), r["ts"])
        self._last[key] = max(self._last.get(key, r["ts"]), r["ts"])

    def rows(self, fps: dict[str, float]) -> list[SeenRow]:
        rows = []
        for key, frames in self._frames.items():
            name, camera = key
            rows.append(
                SeenRow(
                    name,
                    camera,
                    self._first[key],
                    self._last[key],
                    frames / fps.get(camera, 25.0),
                    len(self._tracks[key]),
                )
            )
        return sorted(rows, key=lambda r: (r.camera, r.first_ts, r.name))


def _when(ts: float) -> str:
    if ts > 1e9:  # live sources carry wall-clock epoch seconds
        return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    minutes, seconds = divmod(ts, 60)
    return f"{int(minutes)}:{seconds:05.2f}"


def summary_table(rows: list[SeenRow]) -> Table:
    table = Table(title="Who was seen")
    for column in ("person", "camera", "first seen", "last seen", "on screen (s)", "tracks"):
        table.add_column(
            column,
            justify="right" if column in ("on screen (s)", "tracks") else "left",
            overflow="fold",
        )
    for r in rows:
        table.add_row(
            escape(r.name),
            escape(r.camera),
            _when(r.first_ts),
            _when(r.last_ts),
            f"{r.seconds:.1f}",
            str(r.tracks),
        )
    return table
