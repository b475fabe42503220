"""How the fault matrix compares a disturbed run's records with an undisturbed run's."""

from __future__ import annotations

from bench import faults


def _rec(frame: int, track: str, name: str | None = None, label: str | None = None, **kw) -> dict:
    return {
        "camera": "c",
        "frame": frame,
        "track_id": track,
        "name": name,
        "label": label,
        "bbox": [1.04, 2.0, 3.0, 4.0],
        "capture_time": 1e9 + frame,
        **kw,
    }


def test_run_ids_unknown_labels_and_wall_clock_do_not_count_as_differences() -> None:
    base = [_rec(0, "c-aaaaaa-1", label="unknown-1234"), _rec(1, "c-aaaaaa-2", "obama")]
    other = [
        _rec(1, "c-bbbbbb-2", "obama", capture_time=5.0),
        _rec(0, "c-bbbbbb-1", label="unknown-beef"),
    ]
    assert faults.differing(base, other) == 0
    assert faults.wrong_names(base, other) == 0
    assert faults.duplicates(other) == 0


def test_a_missing_name_differs_a_wrong_name_is_wrong_and_a_repeat_is_a_duplicate() -> None:
    base = [_rec(0, "r-1", "obama"), _rec(1, "r-1", "obama")]
    unnamed = [_rec(0, "r-1", "obama"), _rec(1, "r-1")]
    assert faults.differing(base, unnamed) == 2  # one record each way
    assert faults.wrong_names(base, unnamed) == 0
    wrong = [_rec(0, "r-1", "biden"), _rec(1, "r-1", "obama"), _rec(1, "r-1", "obama")]
    assert faults.wrong_names(base, wrong) == 1
    assert faults.duplicates(wrong) == 1
    events = [{"camera": "c", "frame": 5, "track_id": "r-1", "event": "end", "name": "obama"}]
    assert faults.duplicates(events * 2) == 1 and faults.wrong_names(base, events) == 0


def test_the_table_has_one_row_per_run_with_its_notes() -> None:
    row = faults.Row("grabber", 143, True, 0, "275/275", 0, 0, 2, 469, 183.0, 5, "rerun")
    text = faults.table([row])
    assert "| grabber | 143 | 275/275 | 0 | 0 | 2 of 469 | 183 s | rerun; 5 processes left" in text
