"""Charts of screen time: a horizontal bar chart, or a Gantt-style chart of appearances."""

from __future__ import annotations

import io
from pathlib import Path

from config.errors import ConfigError
from facestream.reports.screen_time import ScreenTime

FORMATS = (".png", ".svg")


def _row_name(s: ScreenTime, cameras: int) -> str:
    return s.name if cameras == 1 else f"{s.name} ({s.camera})"


def save_chart(rows: list[ScreenTime], path: Path, timeline: bool = False) -> None:
    """Bars of seconds on screen per label (and camera), or with ``timeline`` each appearance
    as a bar along the time axis. Unknown labels are drawn in grey, people in blue."""
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"--plot {path}: expected a file name ending in {FORMATS}")
    _draw(rows, path, timeline)


def chart_png(rows: list[ScreenTime], timeline: bool = False) -> bytes:
    """The chart of :func:`save_chart` as PNG bytes (the HTTP API's reports)."""
    buf = io.BytesIO()
    _draw(rows, buf, timeline, fmt="png")
    return buf.getvalue()


def _draw(
    rows: list[ScreenTime], target: Path | io.BytesIO, timeline: bool, fmt: str | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: charts are files
    import matplotlib.pyplot as plt

    cameras = len({s.camera for s in rows})
    ordered = sorted(rows, key=lambda s: (s.unknown, s.camera, -s.seconds, s.name))[::-1]
    names = [_row_name(s, cameras) for s in ordered]
    colours = ["#9e9e9e" if s.unknown else "#1f77b4" for s in ordered]
    fig, ax = plt.subplots(figsize=(9, max(2.5, 0.4 * len(ordered) + 1.2)))
    try:
        if timeline:
            for y, (s, colour) in enumerate(zip(ordered, colours, strict=True)):
                ax.broken_barh(
                    [(i.start, i.end - i.start) for i in s.intervals], (y - 0.35, 0.7), color=colour
                )
            ax.set_yticks(range(len(ordered)), names)
            ax.set_xlabel("time (s)")
            ax.set_title("Appearances")
        else:
            ax.barh(names, [s.seconds for s in ordered], color=colours)
            ax.set_xlabel("seconds on screen")
            ax.set_title("Screen time")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        fig.savefig(target, format=fmt)
    finally:
        plt.close(fig)
