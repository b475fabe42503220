"""Screen time and timelines as a table, JSON or CSV (what the commands print)."""

from __future__ import annotations

import csv
import io
import json

from rich.table import Table

from facestream.console import esc
from facestream.report import _when
from facestream.reports.screen_time import ScreenTime

CSV_FIELDS = ("name", "unknown", "camera", "seconds", "appearances", "first_seen", "last_seen")


def as_json(rows: list[ScreenTime]) -> str:
    return json.dumps([s.as_dict() for s in rows], indent=2)


def as_csv(rows: list[ScreenTime]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for s in rows:
        writer.writerow(s.as_dict())
    return buf.getvalue()


def screen_time_table(rows: list[ScreenTime]) -> Table:
    table = Table(title="Screen time")
    for column in ("name", "camera", "seconds", "appearances", "first seen", "last seen"):
        right = column in ("seconds", "appearances")
        table.add_column(column, justify="right" if right else "left", overflow="fold")
    for s in rows:
        table.add_row(
            f"[dim]{esc(s.name)} (unknown)[/dim]" if s.unknown else esc(s.name),
            esc(s.camera),
            f"{s.seconds:.1f}",
            str(s.appearances),
            _when(s.first_seen),
            _when(s.last_seen),
        )
    return table


def timeline_rows(rows: list[ScreenTime]) -> list[dict]:
    """One dict per appearance, by camera, run and start."""
    found = [
        {
            "name": s.name,
            "camera": i.camera,
            "run": i.run,
            "start": round(i.start, 3),
            "end": round(i.end, 3),
            "seconds": round(i.seconds, 3),
        }
        for s in rows
        for i in s.intervals
    ]
    return sorted(found, key=lambda d: (d["camera"], d["run"], d["start"]))


def timeline_table(name: str, rows: list[dict]) -> Table:
    table = Table(title=f"Appearances of {esc(name)}")
    for column in ("camera", "run", "start", "end", "seconds"):
        table.add_column(column, justify="right" if column == "seconds" else "left")
    for d in rows:
        table.add_row(
            esc(d["camera"]),
            esc(d["run"]),
            _when(d["start"]),
            _when(d["end"]),
            f"{d['seconds']:.1f}",
        )
    return table
