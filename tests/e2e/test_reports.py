"""Reports on a real run of hamilton_360p (real workers, Redis, milvus-lite, MTCNN, dlib)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

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
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {"data_dir": data_dir, "endpoints": endpoints, "results": results, "folder": folder}


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
