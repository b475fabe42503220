"""`facestream run` on the real clips: real worker processes, real Redis, milvus-lite, MTCNN, dlib."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import redis

pytestmark = pytest.mark.slow

LIN = "lin_manuel_miranda"


def _records(path: Path) -> tuple[list[dict], list[dict]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if "event" not in r], [r for r in rows if "event" in r]


def _progress(endpoints, camera: str) -> dict[str, int]:
    client = redis.Redis.from_url(endpoints.redis_url)
    runs = [k for k in client.scan_iter(match=f"fs:progress:{camera}:*")]
    assert len(runs) == 1, runs
    return {k.decode(): int(v) for k, v in client.hgetall(runs[0]).items()}


@pytest.fixture(scope="module")
def hamilton(
    cli, gallery_stack, examples_dir: Path, tmp_path_factory
) -> tuple[object, list[dict], list[dict]]:
    data_dir, endpoints = gallery_stack
    out = tmp_path_factory.mktemp("hamilton") / "results.jsonl"
    done = cli(
        data_dir, endpoints, "run", str(examples_dir / "hamilton_360p.mp4"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done, *_records(out)


def test_summary_names_lin_manuel_miranda(hamilton) -> None:
    done, _, _ = hamilton
    assert LIN in done.stdout
    assert "275/275 frames accounted for" in done.stderr


def test_frontal_shot_is_named_on_at_most_two_tracks(hamilton) -> None:
    _, rows, _ = hamilton
    named = defaultdict(set)
    for r in rows:
        if r["name"] == LIN and 82 <= r["frame"] <= 210:
            named[r["frame"]].add(r["track_id"])
    assert len(named) >= 0.95 * 129, f"only {len(named)} of 129 frames named"
    assert len(set().union(*named.values())) <= 2


def test_no_name_but_lin_or_obama_anywhere(hamilton) -> None:
    _, rows, events = hamilton
    assert {r["name"] for r in rows + events} <= {LIN, "obama", None}


def test_records_follow_the_schema(hamilton) -> None:
    _, rows, events = hamilton
    for r in rows:
        assert set(r) >= {"camera", "frame", "ts", "track_id", "name", "score", "bbox"}
        assert r["camera"] == "hamilton_360p"
        assert 0 <= r["frame"] < 275 and r["ts"] == pytest.approx(r["frame"] / 29.97, abs=0.01)
        x1, y1, x2, y2 = r["bbox"]
        assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 360
    # one result per face per frame: no duplicates
    assert len({(r["frame"], r["track_id"]) for r in rows}) == len(rows)
    # every track starts once and ends once, and carries rows in between
    starts = Counter(e["track_id"] for e in events if e["event"] == "start")
    ends = Counter(e["track_id"] for e in events if e["event"] == "end")
    assert starts == ends and set(starts.values()) == {1}
    assert set(starts) == {r["track_id"] for r in rows}
    identified = {e["track_id"]: e["name"] for e in events if e["event"] == "identified"}
    assert LIN in identified.values()


def test_track_ids_are_unique_across_runs(
    cli, gallery_stack, examples_dir, hamilton, tmp_path
) -> None:
    """A second run of the same camera allocates new track ids (the tracker restarts)."""
    data_dir, endpoints = gallery_stack
    _, first_rows, _ = hamilton
    out = tmp_path / "again.jsonl"
    done = cli(
        data_dir,
        endpoints,
        "run",
        str(examples_dir / "hamilton_360p.mp4"),
        "--camera",
        "stage",
        "--out",
        str(out),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows, _ = _records(out)
    assert {r["camera"] for r in rows} == {"stage"}
    assert not {r["track_id"] for r in rows} & {r["track_id"] for r in first_rows}


def test_crowd_with_nobody_enrolled_runs_to_the_end(cli, shared_dir, empty_stack, tmp_path) -> None:
    data_dir, endpoints = empty_stack
    out = tmp_path / "crowd.jsonl"
    done = cli(
        data_dir, endpoints, "run", str(shared_dir / "media" / "crowd_1080p.mp4"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "105/105 frames accounted for" in done.stderr
    progress = _progress(endpoints, "crowd_1080p")
    assert progress["total"] == 105 and progress["done"] == 105 and progress["finished"] == 1
    rows, _ = _records(out)
    assert len({r["frame"] for r in rows}) > 90  # faces found in nearly every frame
    assert all(r["name"] is None for r in rows)
    assert "nobody enrolled was seen" in done.stdout
