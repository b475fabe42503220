"""Screen time: when each person (or unknown label) was on screen, per camera and run.

"On screen" (docs/reports.md): a label is on screen during the frames whose face records carry
it, each frame lasting one frame step; a track's records from before its identity was decided
count for the first label it gets. Frames closer than ``bridge_s`` of uncovered time belong to
one appearance (a face the detector misses for a few frames did not leave), but only the frames
themselves count as seconds on screen.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

UNKNOWN_PREFIX = "unknown-"  # the matcher's stable labels for faces nobody enrolled
# a track that ended without a name or an unknown label (the matcher stayed undecided): counted
# on its own under this prefix and its track id, as someone not recognised
UNIDENTIFIED_PREFIX = "unidentified:"
BRIDGE_S = 0.5  # default: gaps shorter than this are bridged
FALLBACK_STEP_S = 0.04  # frame step of a run with a single frame (nothing to measure it from)


@dataclass(frozen=True)
class Interval:
    """One appearance: from ``start`` to ``end`` (the end of its last frame), in record time
    (seconds into a file; epoch seconds for live cameras)."""

    camera: str
    run: str
    start: float
    end: float
    last_seen: float  # ts of the last frame carrying the label
    frames: int  # frames carrying the label (the bridged gaps are not on screen)
    step: float  # seconds per frame of this camera's run

    @property
    def seconds(self) -> float:
        """Seconds on screen: the frames carrying the label."""
        return self.frames * self.step


@dataclass
class ScreenTime:
    """One label on one camera, over the runs read."""

    name: str
    camera: str
    intervals: list[Interval] = field(default_factory=list)

    @property
    def unknown(self) -> bool:
        return is_unknown(self.name)

    @property
    def seconds(self) -> float:
        return sum(i.seconds for i in self.intervals)

    @property
    def appearances(self) -> int:
        return len(self.intervals)

    @property
    def first_seen(self) -> float:
        return min(i.start for i in self.intervals)

    @property
    def last_seen(self) -> float:
        return max(i.last_seen for i in self.intervals)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "unknown": self.unknown,
            "camera": self.camera,
            "seconds": round(self.seconds, 3),
            "appearances": self.appearances,
            "first_seen": round(self.first_seen, 3),
            "last_seen": round(self.last_seen, 3),
            "runs": len({i.run for i in self.intervals}),
        }


def is_unknown(label: str) -> bool:
    return label.startswith((UNKNOWN_PREFIX, UNIDENTIFIED_PREFIX))


def frame_step(records: list[dict]) -> float:
    """Seconds per frame of one camera's run, measured from its records: the median ts step per
    frame between consecutive frames (a file's 1/fps; a live camera's actual rate)."""
    by_frame = sorted({r["frame"]: r["ts"] for r in records}.items())
    steps = [
        (t1 - t0) / (f1 - f0)
        for (f0, t0), (f1, t1) in zip(by_frame, by_frame[1:], strict=False)
        if f1 > f0
    ]
    steps = [s for s in steps if s > 0]
    if not steps:
        return FALLBACK_STEP_S
    median = statistics.median(steps)
    # ts has 3 decimals, so one step of a 29.97 fps file reads 0.033 or 0.034: the mean over the
    # run is exact, and is taken unless pauses (a live camera that stalled) pull it away
    (f0, t0), (f1, t1) = by_frame[0], by_frame[-1]
    mean = (t1 - t0) / (f1 - f0)
    return mean if abs(mean - median) <= 0.1 * median else median


def labelled(records: list[dict]) -> list[tuple[str, dict]]:
    """(label, record) for the records of one run; a record without a label yet takes the next
    label of its track, and a track never labelled is ``unidentified:<track id>``."""
    by_track: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        by_track[r["track_id"]].append(r)
    out = []
    for rows in by_track.values():
        rows.sort(key=lambda r: r["frame"])
        following = UNIDENTIFIED_PREFIX + rows[0]["track_id"]
        for r in reversed(rows):
            label = r.get("label") or r.get("name") or following
            following = label
            out.append((label, r))
    return out


def intervals(records: list[dict], bridge_s: float = BRIDGE_S) -> dict[str, list[Interval]]:
    """label -> its appearances in the records of ONE camera and run."""
    if not records:
        return {}
    step = frame_step(records)
    times: dict[str, set[float]] = defaultdict(set)
    for label, r in labelled(records):
        times[label].add(r["ts"])  # two tracks of one label in one frame count once
    camera, run = records[0]["camera"], str(records[0].get("run") or "")
    found: dict[str, list[Interval]] = {}
    for label, stamps in times.items():
        spans: list[list[float]] = []  # [start, end, last ts, frames]
        for ts in sorted(stamps):
            if spans and ts - spans[-1][1] <= bridge_s + step * 0.5:
                spans[-1][1:] = [ts + step, ts, spans[-1][3] + 1]
            else:
                spans.append([ts, ts + step, ts, 1])
        found[label] = [Interval(camera, run, s, e, t, int(n), step) for s, e, t, n in spans]
    return found


def screen_time(
    records: Iterable[dict], bridge_s: float = BRIDGE_S, camera: str | None = None
) -> list[ScreenTime]:
    """Every label's screen time per camera, from face records of any cameras and runs; sorted by
    camera, then the longest first."""
    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in records:
        if "event" in r or (camera is not None and r.get("camera") != camera):
            continue
        runs[(r["camera"], str(r.get("run") or ""))].append(r)
    rows: dict[tuple[str, str], ScreenTime] = {}
    for (cam, _run), rs in sorted(runs.items()):
        for label, found in intervals(rs, bridge_s).items():
            rows.setdefault((label, cam), ScreenTime(label, cam)).intervals.extend(found)
    return sorted(rows.values(), key=lambda s: (s.camera, s.unknown, -s.seconds, s.name))
