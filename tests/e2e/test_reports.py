"""Reports on a real run of hamilton_360p (real workers, Redis, milvus-lite, MTCNN, dlib)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import require

pytestmark = pytest.mark.slow

LIN = "lin_manuel_miranda"
AUDIENCE = (211, 274)  # frames of the audience shot (../shared/README.md)


@pytest.fixture(scope="module")
def hamilton(cli, gallery_stack, examples_dir: Path, tmp_path_factory) -> dict:
    data_dir, endpoints = gallery_stack
    folder = tmp_path_factory.mktemp("reports")
    results = folder / "results.jsonl"
    done = cli(
        data_dir,
        endpoints,
        "run",
        str(examples_dir / "hamilton_360p.mp4"),
        "--camera",
        "stage-reports",
        "--out",
        str(results),
        "--annotate",
        str(folder / "annotated.mp4"),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        "data_dir": data_dir,
        "endpoints": endpoints,
        "results": results,
        "folder": folder,
        "video": examples_dir / "hamilton_360p.mp4",
    }


def _report(cli, hamilton: dict, *args: str):
    done = cli(hamilton["data_dir"], hamilton["endpoints"], *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_screen_time_json_from_the_results_stream(cli, hamilton) -> None:
    """No --results: the report reads the results stream, here one camera of it."""
    done = _report(cli, hamilton, "report", "screen-time", "--camera", "stage-reports", "--json")
    rows = json.loads(done.stdout)
    lin = [r for r in rows if r["name"] == LIN]
    assert len(lin) == 1 and lin[0]["camera"] == "stage-reports"
    assert 4.0 <= lin[0]["seconds"] <= 7.0, lin
    assert {r["camera"] for r in rows} == {"stage-reports"}
    # the audience: four faces, none of them a named person, each its own unknown row
    audience = [r for r in rows if r["first_seen"] >= AUDIENCE[0] / 29.97 - 0.05]
    assert len(audience) >= 3 and all(r["unknown"] for r in audience), audience
    assert all(r["name"] != LIN for r in audience)


def test_screen_time_plot_csv_and_timeline_from_the_saved_results(cli, hamilton) -> None:
    folder = hamilton["folder"]
    done = _report(
        cli,
        hamilton,
        "report",
        "screen-time",
        "--results",
        str(hamilton["results"]),
        "--csv",
        "--plot",
        str(folder / "bars.png"),
    )
    header, *lines = done.stdout.splitlines()
    assert header.split(",")[:3] == ["name", "unknown", "camera"]
    assert any(line.startswith(f"{LIN},False,stage-reports,") for line in lines)
    _report(
        cli,
        hamilton,
        "report",
        "screen-time",
        "--results",
        str(hamilton["results"]),
        "--plot",
        str(folder / "gantt.svg"),
        "--timeline",
    )
    with Image.open(folder / "bars.png") as im:
        im.load()
        assert im.size[0] > 300 and im.size[1] > 150
    assert (folder / "gantt.svg").read_text().lstrip().startswith("<?xml")
    table = _report(cli, hamilton, "report", "screen-time", "--results", str(hamilton["results"]))
    assert LIN in table.stdout and "(unknown)" in table.stdout

    done = _report(cli, hamilton, "timeline", LIN, "--results", str(hamilton["results"]), "--json")
    spans = json.loads(done.stdout)
    # the frontal shot (frames 82-210) is one appearance
    assert any(s["start"] <= 82 / 29.97 + 0.1 and s["end"] >= 210 / 29.97 for s in spans), spans
    assert {s["camera"] for s in spans} == {"stage-reports"}
    missing = cli(
        hamilton["data_dir"],
        hamilton["endpoints"],
        "timeline",
        "nobody_at_all",
        "--results",
        str(hamilton["results"]),
    )
    assert missing.returncode == 1 and "was not seen" in missing.stdout


def _probe(path: Path) -> dict:
    require(
        shutil.which("ffprobe") is not None, "ffprobe (Debian package ffmpeg; make system-deps)"
    )
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
         "stream=codec_name,pix_fmt,nb_read_frames,r_frame_rate,avg_frame_rate", "-of", "json",
         str(path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    (stream,) = json.loads(done.stdout)["streams"]
    return stream


def _frame(path: Path, index: int) -> np.ndarray:
    capture = cv2.VideoCapture(str(path))
    try:
        for _ in range(index + 1):
            ok, bgr = capture.read()
            assert ok, f"{path}: no frame {index}"
        return bgr.astype(np.int16)
    finally:
        capture.release()


def _check_annotated(video: Path, annotated: Path, results: Path) -> None:
    stream = _probe(annotated)
    assert stream["codec_name"] == "h264" and stream["pix_fmt"] == "yuv420p", stream
    assert int(stream["nb_read_frames"]) == 275
    assert stream["r_frame_rate"] == _probe(video)["r_frame_rate"]  # 2997/100: 29.97 fps
    num, den = map(int, stream["avg_frame_rate"].split("/"))
    assert num / den == pytest.approx(29.97, abs=0.01)
    # frame 150 of the frontal shot: the box drawn around Lin's face differs from the original
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    (box,) = [r["bbox"] for r in rows if r.get("frame") == 150 and r.get("name") == LIN]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    drawn, original = _frame(annotated, 150), _frame(video, 150)
    diff = np.abs(drawn - original).mean(axis=2)
    left_edge = diff[y1 + 5 : y2 - 5, max(x1 - 1, 0) : x1 + 2]
    inside = diff[y1 + 8 : y2 - 8, x1 + 8 : x2 - 8]
    assert left_edge.mean() > 40, f"box edge barely changed: {left_edge.mean():.1f}"
    assert inside.mean() < 8, f"the face inside the box changed: {inside.mean():.1f}"
    # the caption above the box: its background is a solid colour
    assert diff[max(y1 - 12, 0) : y1 - 2, x1 + 2 : x1 + 60].mean() > 30


def test_run_annotate_writes_every_frame_at_the_input_rate(hamilton) -> None:
    _check_annotated(hamilton["video"], hamilton["folder"] / "annotated.mp4", hamilton["results"])


def test_annotate_afterwards_from_saved_results(cli, hamilton) -> None:
    out = hamilton["folder"] / "later.mp4"
    done = _report(cli, hamilton, "annotate", str(hamilton["video"]), str(hamilton["results"]),
                   str(out))  # fmt: skip
    assert "275 frames" in done.stderr
    _check_annotated(hamilton["video"], out, hamilton["results"])


def test_identify_annotate_draws_names_on_the_photo(cli, hamilton, shared_dir, tmp_path) -> None:
    photo = shared_dir / "faces" / "probes" / "obama_and_biden.jpg"
    out = tmp_path / "tagged.jpg"
    done = _report(cli, hamilton, "identify", str(photo), "--json", "--annotate", str(out))
    faces = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"obama", "biden"} <= {f["name"] for f in faces}
    original = cv2.imread(str(photo)).astype(np.int16)
    tagged = cv2.imread(str(out)).astype(np.int16)
    assert tagged.shape == original.shape
    diff = np.abs(tagged - original).mean(axis=2)
    for f in faces:
        x1, y1, x2, y2 = (int(round(v)) for v in f["bbox"])
        assert diff[y1 + 5 : y2 - 5, max(x1 - 1, 0) : x1 + 2].mean() > 40, f
    two = cli(hamilton["data_dir"], hamilton["endpoints"], "identify", str(photo), str(photo),
              "--annotate", str(out))  # fmt: skip
    assert two.returncode == 2 and "--annotate: expected one IMAGE, got 2" in two.stderr
