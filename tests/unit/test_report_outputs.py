"""Report outputs on files: results files read strictly, charts written, photo dates and copies."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from config.errors import ConfigError
from facestream.reports.find import Found, copy_found, files_under, photo_date
from facestream.reports.plots import save_chart
from facestream.reports.records import faces, read_jsonl
from facestream.reports.screen_time import screen_time
from facestream.reports.tables import as_csv, as_json
from tests.conftest import SHARED_DIR, require


def _records(camera: str = "door") -> list[dict]:
    rows = []
    for f in range(50):
        for track, label in (("1", "ada"), ("2", "unknown-ab12")):
            rows.append(
                {
                    "camera": camera,
                    "run": "r1",
                    "frame": f,
                    "ts": f / 25,
                    "track_id": f"{camera}-x-{track}",
                    "name": label if track == "1" else None,
                    "label": label,
                    "bbox": [0, 0, 9, 9],
                    "score": 0.9,
                }
            )
    return rows


def test_results_file_errors_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"event": "start"}) + "\n\n" + json.dumps(_records()[0]) + "\n[]\n")
    with pytest.raises(ConfigError, match=r"r.jsonl, line 4: expected a JSON object, got list"):
        list(read_jsonl(path))
    path.write_text("{not json\n")
    with pytest.raises(ConfigError, match=r"line 1: expected a JSON object"):
        list(read_jsonl(path))
    with pytest.raises(ConfigError, match="no such file"):
        list(read_jsonl(tmp_path / "missing.jsonl"))


def test_faces_keep_one_camera_and_run() -> None:
    rows = _records("door") + _records("gate") + [{"event": "end", "camera": "door"}]
    assert {r["camera"] for r in faces(rows, camera="gate")} == {"gate"}
    assert faces(rows, run="other") == []
    assert len(faces(rows)) == 200


def test_json_csv_and_charts(tmp_path: Path) -> None:
    rows = screen_time(_records())
    data = json.loads(as_json(rows))
    assert [(d["name"], d["unknown"], d["seconds"]) for d in data] == [
        ("ada", False, 2.0),
        ("unknown-ab12", True, 2.0),
    ]
    assert as_csv(rows).splitlines()[0] == (
        "name,unknown,camera,seconds,appearances,first_seen,last_seen"
    )
    for name, timeline in (("bars.png", False), ("gantt.png", True), ("bars.svg", False)):
        save_chart(rows, tmp_path / name, timeline=timeline)
    with Image.open(tmp_path / "gantt.png") as im:
        assert im.format == "PNG" and im.size[0] > 300
    assert "<svg" in (tmp_path / "bars.svg").read_text()
    with pytest.raises(ConfigError, match=r"--plot .*chart.pdf: expected a file name ending in"):
        save_chart(rows, tmp_path / "chart.pdf")


def test_photo_dates_come_from_exif_else_the_file(tmp_path: Path) -> None:
    faces_dir = SHARED_DIR / "faces"
    require(faces_dir.is_dir(), f"shared photos in {faces_dir}")
    # DateTimeOriginal "2009:09:09 20:27:09.60:04:00" (sub-seconds and offset glued on)
    assert photo_date(faces_dir / "gallery" / "obama" / "obama2.jpg") == (
        dt.datetime(2009, 9, 9, 20, 27, 9),
        "exif",
    )
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    os.utime(plain, (1_600_000_000, 1_600_000_000))
    assert photo_date(plain) == (dt.datetime.fromtimestamp(1_600_000_000), "file")


def test_files_under_recurse_and_copies_are_numbered(tmp_path: Path) -> None:
    for rel in ("b/2.jpg", "a/1.jpg", "a/.hidden.jpg", ".cache/x.jpg", "top.png"):
        (tmp_path / "lib" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "lib" / rel).write_bytes(b"x")
    found = [p.relative_to(tmp_path / "lib").as_posix() for p in files_under([tmp_path / "lib"])]
    assert found == ["top.png", "a/1.jpg", "b/2.jpg"]
    when = dt.datetime(2020, 1, 1)
    picks = [Found(tmp_path / "lib" / rel, 0.9, when, "file", 1) for rel in ("b/2.jpg", "a/1.jpg")]
    picks.append(Found(tmp_path / "lib" / "top.png", 0.9, when, "file", 1))
    copies = copy_found(picks, tmp_path / "show")
    assert [c.name for c in copies] == ["001_2.jpg", "002_1.jpg", "003_top.png"]
