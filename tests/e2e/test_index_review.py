"""Index mode on real photos: `facestream index ../shared/faces` groups the faces by identity,
labelling the groups by their majority name and committing enrolls the gallery so well that
`identify` names every probe, and nothing of the faces under review is left behind.

The identities come from the paths (bench.indexing) and are hidden from the clustering. The tests
of this module run in order on one stack: grouping, then review and commit.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sklearn.metrics import completeness_score, homogeneity_score

from bench.indexing import identities
from config.settings import Settings
from facestream.indexing.review import Review
from facestream.stack import EmbeddedStack, Endpoints

pytestmark = pytest.mark.slow
GALLERY = {"alex_lacamoire", "biden", "kit_harington", "lin_manuel_miranda", "obama", "rose_leslie"}
PROBES = {
    "obama1.jpg": ["obama"],
    "obama3.jpg": ["obama"],
    "32bit.png": ["obama"],
    "two_people.jpg": ["biden", "obama"],
    "kit_with_rose.jpg": ["kit_harington", "rose_leslie"],
    "alex_lacamoire1.jpg": ["alex_lacamoire"],
    "johnsnow_test1.jpg": ["kit_harington"],
    "multiface.jpg": [None] * 6,
}


@pytest.fixture(scope="module")
def indexed(
    cli, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Endpoints, str]]:
    data_dir = tmp_path_factory.mktemp("index")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        done = cli(data_dir, endpoints, "index", str(shared_dir / "faces"))
        assert done.returncode == 0, done.stderr
        yield data_dir, endpoints, done.stdout


def _truth(review: Review) -> dict[str, str]:
    """Candidate id -> identity, from the paths (faces of a photo left to right)."""
    by_source: dict[str, list] = {}
    for g in review.groups():
        for f in g.faces:
            by_source.setdefault(f.candidate.source, []).append(f)
    truth = {}
    for source, faces in by_source.items():
        names = identities(Path(source), [f.candidate.bbox[0] for f in faces])
        truth.update({f.cid: name for f, name in zip(faces, names, strict=True)})
    return truth


def test_groups_follow_identities(indexed) -> None:
    _, endpoints, stdout = indexed
    review = Review(redis.Redis.from_url(endpoints.redis_url))
    truth = _truth(review)
    assert len(truth) == 34, "every face of the 25 photos is a candidate"
    cids = sorted(truth)
    group_of = {f.cid: g.group for g in review.groups() for f in g.faces}
    assert homogeneity_score([truth[c] for c in cids], [group_of[c] for c in cids]) >= 0.95
    assert completeness_score([truth[c] for c in cids], [group_of[c] for c in cids]) >= 0.8
    assert "34 face(s)" in stdout
    for g in review.groups():  # every face has a thumbnail and a quality
        assert all(f.candidate.thumbnail[:2] == b"\xff\xd8" for f in g.faces)
        assert all(0.0 <= f.candidate.quality <= 1.0 for f in g.faces)


def test_label_by_majority_commit_and_identify(cli, indexed, shared_dir: Path) -> None:
    data_dir, endpoints, _ = indexed
    client = redis.Redis.from_url(endpoints.redis_url)
    review = Review(client)
    truth = _truth(review)
    thumbnails = [f.candidate.thumbnail for g in review.groups() for f in g.faces]
    listed = cli(data_dir, endpoints, "review")
    assert listed.returncode == 0, listed.stderr
    sheets = data_dir / "review" / "default"
    assert sorted(p.stem for p in sheets.glob("*.png")) == sorted(g.group for g in review.groups())
    kept = []
    for g in review.groups():
        name, _ = Counter(truth[f.cid] for f in g.faces).most_common(1)[0]
        if name in GALLERY:
            done = cli(data_dir, endpoints, "review", "label", g.group, name)
        elif name.startswith("stranger:"):
            done = cli(data_dir, endpoints, "review", "reject", g.group)
        else:  # the singles: not labelled, they wait for a later review
            kept.append(g.group)
            continue
        assert done.returncode == 0, done.stderr
    committed = cli(data_dir, endpoints, "review", "commit")
    assert committed.returncode == 0, committed.stderr
    for name in GALLERY:
        assert f"enrolled {name}:" in committed.stdout
    assert [g.group for g in review.groups()] == kept
    assert sorted(p.stem for p in sheets.glob("*.png")) == sorted(kept)
    # the enrolled faces keep their thumbnail for the face library; no other face stays
    enrolled = {v for key in client.scan_iter("fs:person:*:thumbs") for v in client.hvals(key)}
    assert enrolled and enrolled <= set(thumbnails)
    dropped = [t for t in thumbnails if t not in enrolled]

    probes = shared_dir / "faces" / "probes"
    found = cli(data_dir, endpoints, "identify", "--json", *(str(probes / p) for p in PROBES))
    assert found.returncode == 0, found.stderr
    names: dict[str, list] = {}
    for row in (json.loads(x) for x in found.stdout.splitlines() if x.startswith("{")):
        names.setdefault(Path(row["image"]).name, []).append(row["name"])
    for probe, expected in PROBES.items():
        assert sorted(names[probe], key=str) == sorted(expected, key=str), probe

    for group in kept:
        assert cli(data_dir, endpoints, "review", "reject", group).returncode == 0
    assert not list(client.scan_iter("fs:index:default:candidate:*"))
    assert not list(client.scan_iter("fs:index:default:group:*"))
    assert not list(sheets.glob("*.png"))
    _wait_for_aof_rewrite(client)
    leftovers = [
        path
        for path in data_dir.rglob("*")
        if path.is_file() and any(t[200:264] in path.read_bytes() for t in dropped)
    ]
    assert not leftovers, f"thumbnails left in {leftovers}"


def _wait_for_aof_rewrite(client: redis.Redis, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        info = client.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.2)
    raise AssertionError("the Redis AOF rewrite did not finish")
