"""Unknown labels on the crowd clip (nobody enrolled): two faces on screen together are two people.

Real `facestream run` with its worker processes, real Redis, milvus-lite, MTCNN and dlib.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def simultaneous_labels(rows: list[dict]) -> dict[str, list[tuple[str, ...]]]:
    """Label -> the sets of its tracks seen in one frame of one camera, where there are two or
    more (a label on two simultaneous tracks covers two people)."""
    by_frame: dict[tuple[str, int, str], set[str]] = defaultdict(set)
    for r in rows:
        if (r.get("label") or "").startswith("unknown-"):
            by_frame[(r["camera"], r["frame"], r["label"])].add(r["track_id"])
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for (_, _, label), tracks in by_frame.items():
        if len(tracks) > 1 and tuple(sorted(tracks)) not in out[label]:
            out[label].append(tuple(sorted(tracks)))
    return dict(out)


def test_no_unknown_label_covers_two_tracks_on_screen_together(
    cli, shared_dir, empty_stack, tmp_path: Path
) -> None:
    data_dir, endpoints = empty_stack
    out = tmp_path / "crowd.jsonl"
    done = cli(
        data_dir, endpoints, "run", str(shared_dir / "media" / "crowd_1080p.mp4"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    faces = [r for r in rows if "event" not in r]
    labels = {r["label"] for r in faces if (r.get("label") or "").startswith("unknown-")}
    tracks = {r["track_id"] for r in faces if (r.get("label") or "").startswith("unknown-")}
    print(f"\ncrowd_1080p: {len(labels)} unknown labels on {len(tracks)} tracks")
    assert labels, "strangers on the crowd clip got no unknown label at all"
    assert simultaneous_labels(faces) == {}
