"""Screen time from result records: frames carry labels, short gaps are bridged."""

from __future__ import annotations

import pytest

from facestream.reports.screen_time import frame_step, intervals, labelled, screen_time

FPS = 25.0


def rec(frame: int, track: str, label: str | None, camera: str = "door", run: str = "r1") -> dict:
    return {
        "camera": camera,
        "run": run,
        "frame": frame,
        "ts": round(frame / FPS, 3),
        "track_id": f"{camera}-abc-{track}",
        "name": None if label is None or label.startswith("unknown-") else label,
        "label": label,
        "bbox": [0, 0, 10, 10],
        "score": 0.9,
    }


def test_frame_step_is_the_median_step_per_frame() -> None:
    rows = [rec(f, "1", "ada") for f in (0, 1, 2, 5, 6)]
    assert frame_step(rows) == pytest.approx(1 / FPS, abs=1e-3)


def test_a_track_counts_for_its_first_label_from_its_first_frame() -> None:
    rows = [rec(0, "1", None), rec(1, "1", None), rec(2, "1", "ada"), rec(3, "1", "ada")]
    assert [label for label, _ in labelled(rows)] == ["ada"] * 4
    never = [rec(0, "2", None), rec(1, "2", None)]
    assert {label for label, _ in labelled(never)} == {"unidentified:door-abc-2"}


def test_gaps_shorter_than_the_bridge_are_one_appearance() -> None:
    # frames 0-24 (1 s), a gap of 10 frames (0.4 s), frames 35-59, then 50 frames away: 110-134
    frames = [*range(25), *range(35, 60), *range(110, 135)]
    rows = [rec(f, "1", "ada") for f in frames]
    found = intervals(rows, bridge_s=0.5)["ada"]
    assert [(i.start, round(i.end, 2)) for i in found] == [(0.0, 2.4), (4.4, 5.4)]
    # the bridged 0.4 s joins the first two appearances but is not time on screen
    assert [round(i.seconds, 3) for i in found] == [2.0, 1.0]
    strict = intervals(rows, bridge_s=0.2)["ada"]
    assert len(strict) == 3
    assert sum(i.seconds for i in strict) == pytest.approx(75 / FPS, abs=1e-6)


def test_two_tracks_of_one_person_in_a_frame_count_once() -> None:
    rows = [rec(f, "1", "ada") for f in range(50)] + [rec(f, "2", "ada") for f in range(25, 75)]
    (row,) = screen_time(rows)
    assert row.seconds == pytest.approx(75 / FPS) and row.appearances == 1


def test_rows_per_camera_runs_summed_unknowns_marked() -> None:
    rows = [rec(f, "1", "ada", run="r1") for f in range(25)]
    rows += [rec(f, "2", "ada", run="r2") for f in range(50)]  # a second run of the same file
    rows += [rec(f, "3", "unknown-ff01", camera="gate") for f in range(10)]
    rows += [{"event": "end", "camera": "door", "frame": 3, "ts": 0.1, "track_id": "x"}]
    by = {(s.name, s.camera): s.as_dict() for s in screen_time(rows)}
    assert by[("ada", "door")]["seconds"] == pytest.approx(3.0)
    assert by[("ada", "door")]["appearances"] == 2 and by[("ada", "door")]["runs"] == 2
    assert by[("unknown-ff01", "gate")]["unknown"] is True
    assert set(by[("ada", "door")]) >= {
        "name",
        "camera",
        "seconds",
        "appearances",
        "first_seen",
        "last_seen",
    }
    assert [s.name for s in screen_time(rows, camera="gate")] == ["unknown-ff01"]
