"""An unknown face seen by a camera becomes a person through review, on the crowd clip.

Real `facestream run` (worker processes, MTCNN, dlib), a private Redis and milvus-lite, the real
CLI for `unknowns label`, the real API (uvicorn) for `/v1/tracks`. Nobody is enrolled at first:
after one run, the label with the most tracks is labelled `guest_one`; `/v1/tracks` then names the
earlier tracks of that label (and the screen-time report its time), and a second run of the clip
names that face's tracks.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest
import redis

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.stack import EmbeddedStack
from tests.support.api_server import api_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
NAME = "guest_one"


def _faces(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in rows if "event" not in r]


def _iou(a: list[float], b: list[float]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _same_face_tracks(first: list[dict], second: list[dict], tracks: set[str]) -> set[str]:
    """Tracks of the second run on the faces of ``tracks`` of the first run (same frame, boxes
    overlapping by IoU >= 0.5): the same clip gives the same faces in the same places."""
    by_frame: dict[int, list[dict]] = defaultdict(list)
    for r in second:
        by_frame[r["frame"]].append(r)
    votes: Counter[str] = Counter()
    for r in first:
        if r["track_id"] in tracks:
            for s in by_frame[r["frame"]]:
                if _iou(r["bbox"], s["bbox"]) >= 0.5:
                    votes[s["track_id"]] += 1
    return {t for t, n in votes.items() if n >= 3}  # a stray overlap of a frame or two is not it


def test_a_labelled_unknown_names_its_past_and_future_tracks(
    cli, shared_dir: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    clip = str(shared_dir / "media" / "crowd_1080p.mp4")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        first_out, second_out = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
        done = cli(data_dir, endpoints, "run", clip, "--out", str(first_out))
        assert done.returncode == 0, done.stderr[-3000:]
        first = _faces(first_out)
        assert not any(r["name"] for r in first), "nobody is enrolled: no face may be named"
        tracks_of: dict[str, set[str]] = defaultdict(set)
        for r in first:
            if (r.get("label") or "").startswith("unknown-"):
                tracks_of[r["label"]].add(r["track_id"])
        assert tracks_of, "the crowd clip gave no unknown label"
        # the face seen longest: most face records under one label
        label = Counter(r["label"] for r in first if r["label"] in tracks_of).most_common(1)[0][0]
        theirs = tracks_of[label]

        listed = cli(data_dir, endpoints, "unknowns")
        assert listed.returncode == 0 and label in listed.stdout, listed.stdout
        labelled = cli(data_dir, endpoints, "unknowns", "label", label, NAME)
        assert labelled.returncode == 0, labelled.stderr[-3000:]
        assert f"{label} is now {NAME}" in labelled.stdout, labelled.stdout
        listed = cli(data_dir, endpoints, "unknowns")
        assert label not in listed.stdout  # never handed out again
        again = cli(data_dir, endpoints, "unknowns", "label", label, NAME)
        assert again.returncode != 0 and "already labelled as a person" in again.stderr

        settings = Settings(
            data_dir=data_dir, redis_url=endpoints.redis_url, milvus_uri=endpoints.milvus_uri
        )
        _, reader = ApiKeys(redis.Redis.from_url(endpoints.redis_url)).create("read", "default")
        headers = {"Authorization": f"Bearer {reader}"}
        with api_server(settings, endpoints) as url:
            got = httpx.get(f"{url}/v1/tracks", headers=headers, timeout=60)
            assert got.status_code == 200, got.text
            tracks = got.json()
        named = {t["track_id"] for t in tracks if t["name"] == NAME}
        assert named == theirs, (named, theirs)
        assert all(t["label"] == label for t in tracks if t["track_id"] in theirs)

        report = cli(data_dir, endpoints, "report", "screen-time", "--json")
        assert report.returncode == 0, report.stderr[-3000:]
        seen = {row["name"]: row for row in json.loads(report.stdout)}
        assert NAME in seen and label not in seen, sorted(seen)
        assert not seen[NAME]["unknown"]

        done = cli(data_dir, endpoints, "run", clip, "--out", str(second_out))
        assert done.returncode == 0, done.stderr[-3000:]
        second = _faces(second_out)
        same = _same_face_tracks(first, second, theirs)
        assert same, "the second run has no track on the labelled face"
        final_name: dict[str, str | None] = {}
        for r in second:  # the name a track ends with (its first frames vote before naming)
            final_name[r["track_id"]] = r["name"] or final_name.get(r["track_id"])
        names = {t: final_name.get(t) for t in same}
        print(f"\n{label}: {len(theirs)} track(s) first; second run {names}")
        assert all(n == NAME for n in names.values()), names
        # two faces on screen together are two people: no other track seen in the same frames as
        # guest_one's keeps the name (before, a 21 px face did at 0.925 against 0.92; now it is
        # named until guest_one's own track is, with 0.998, and unnamed from that frame on)
        frames: dict[str, set[int]] = {}
        last_name: dict[str, str | None] = {}
        for r in second:
            frames.setdefault(r["track_id"], set()).add(r["frame"])
            last_name[r["track_id"]] = r["name"]
        theirs_frames = set().union(*(frames[t] for t in same))
        beside = {t for t, f in frames.items() if t not in same and f & theirs_frames}
        named_too = {t for t in beside if last_name[t] == NAME}
        assert not named_too, f"tracks on screen with {NAME} also named {NAME}: {named_too}"


def test_the_cli_merges_rejects_and_refuses_bad_arguments(
    cli, stack, settings: Settings, redis_client, milvus_client
) -> None:
    """`facestream unknowns merge/reject/label` on labels the real UnknownFaces handed out."""
    import numpy as np

    from facestream.services import Services
    from workers.models.registry import spec

    unknowns = Services(settings, stack).gallery().unknowns("dlib")
    rng = np.random.default_rng(1)
    labels = []
    for _ in range(3):
        v = rng.normal(size=spec("dlib").dim)
        labels.append(unknowns.label_for((v / np.linalg.norm(v)).astype(np.float32), "door", 1.0))
    a, b, c = labels
    data_dir = settings.data_dir

    done = cli(data_dir, stack, "unknowns", "merge", a, b, c)
    assert done.returncode == 0, done.stderr
    assert f"merged {b}, {c} into {a}: 3 track(s)" in done.stdout
    done = cli(data_dir, stack, "unknowns", "reject", b)
    assert done.returncode != 0 and f"already merged into {a}" in done.stderr, done.stderr
    done = cli(data_dir, stack, "unknowns", "reject", a)
    assert done.returncode == 0 and f"{a} rejected: 3 vector(s) deleted" in done.stdout, done
    assert "no unknown faces seen yet" in cli(data_dir, stack, "unknowns").stdout
    refused = {
        ("unknowns", "reject", a): f"label {a!r}: not an unknown label of collection 'default'",
        ("unknowns", "reject", b): f"label {b!r}: not an unknown label",  # forgotten with a
        ("unknowns", "label", a): "unknowns label: expected LABEL NAME, got",
        ("unknowns", "merge", a): "unknowns merge: expected LABEL OTHER..., got",
        ("unknowns", "list", a): "unknowns list: expected no arguments, got",
        ("unknowns", "reject", "p-1"): "label: expected an unknown label like unknown-1a2b3c4d",
        ("--collection", "nope", "unknowns", "reject", a): "--collection: expected one of",
    }
    for args, message in refused.items():
        done = cli(data_dir, stack, *args)
        assert done.returncode != 0 and message in done.stderr, (args, done.stderr)
