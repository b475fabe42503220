"""Review actions on a real Redis and a real milvus-lite: label, reject, move, merge, commit.

The candidates are made here (random unit vectors, a real JPEG thumbnail) so that each action's
effect on the records can be checked exactly; tests/e2e/test_index_review.py does the same on
faces found by the real models.
"""

from __future__ import annotations

import numpy as np
import pytest

from config.errors import ConfigError
from facestream import thumbnails
from facestream.indexing.candidates import Candidate, candidate_id
from facestream.indexing.jobs import IndexJobs
from facestream.indexing.review import Review
from workers.gallery import People, VectorIndex
from workers.models.chips import encode_jpeg
from workers.models.registry import spec

DIM = spec("dlib").dim


def _face(rng: np.random.Generator, centre: np.ndarray, n: int, quality: float) -> Candidate:
    v = centre + 0.02 * rng.normal(size=DIM)
    pixels = rng.integers(0, 255, size=(112, 112, 3), dtype=np.uint8)
    return Candidate(
        cid=candidate_id(f"/photos/p{n}.jpg", 0, 0),
        source=f"/photos/p{n}.jpg",  # one face per photo: faces of one photo are never grouped
        frame=0,
        time_s=0.0,
        bbox=[float(n), 0.0, n + 10.0, 10.0],  # left to right: the order groups are numbered in
        quality=quality,
        embedding=(v / np.linalg.norm(v)).astype(np.float32),
        thumbnail=encode_jpeg(pixels, 85),
    )


@pytest.fixture
def review(redis_client) -> Review:
    """Two people, three faces each, grouped as a job would group them: g1 and g2."""
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=DIM), rng.normal(size=DIM)
    faces = [_face(rng, a, i, 0.1 * (i + 1)) for i in range(3)]
    faces += [_face(rng, b, i + 3, 0.5) for i in range(3)]
    jobs = IndexJobs(redis_client)
    job = jobs.create(["/photos/p.jpg"], "dlib", announce=False)
    jobs._save(job, "/photos/p.jpg", faces, "dlib", "")
    assert jobs.group(job, spec("dlib").threshold, "average") == 2
    return Review(redis_client)


def test_groups_list_faces_best_first(review: Review) -> None:
    groups = review.groups()
    assert [g.group for g in groups] == ["g1", "g2"]
    assert [g.size for g in groups] == [3, 3]
    assert [round(f.candidate.quality, 1) for f in groups[0].faces] == [0.3, 0.2, 0.1]
    assert groups[0].name == "" and groups[0].suggested == ""


def test_move_merge_and_reject_a_face(review: Review, redis_client) -> None:
    face = review.group("g1").faces[0].cid
    review.move(face, "g2")
    assert review.group("g2").size == 4 and review.group("g1").size == 2
    review.move(face, "new")
    assert [g.group for g in review.groups()] == ["g1", "g2", "g3"]
    review.label("g3", "ada")
    review.merge("g1", ["g3"])
    assert [g.group for g in review.groups()] == ["g1", "g2"]
    assert review.group("g1").size == 3 and review.group("g1").name == "ada"
    review.reject_face(face)
    assert review.group("g1").size == 2
    assert not redis_client.exists(f"fs:index:default:candidate:{face}")


def test_errors_name_what_was_expected(review: Review) -> None:
    with pytest.raises(ConfigError, match="group: expected one of"):
        review.label("g9", "ada")
    with pytest.raises(ConfigError, match="person name"):
        review.label("g1", "a/b")
    with pytest.raises(ConfigError, match="face: expected"):
        review.move("c-000000000000", "g1")
    with pytest.raises(ConfigError, match="merge"):
        review.merge("g1", ["g1"])


def test_commit_enrolls_the_best_faces_and_keeps_only_their_thumbnails(
    review: Review, redis_client, milvus_client
) -> None:
    people = People(redis_client)
    model = spec("dlib")
    index = VectorIndex(milvus_client, model.collection(), model.dim)
    review.label("g1", "ada")
    assert review.reject("g2") == 3
    report = review.commit(people, lambda _m: index, best_per_person=2)
    assert report.enrolled == {"ada": 2} and report.left == 0
    ada = people.find("ada")
    assert ada is not None and people.all()[0].faces == {"dlib": 2}
    best = review.store  # nothing under review is left: no candidate, group or thumbnail
    assert best.group_ids() == []
    assert not list(redis_client.scan_iter("fs:index:default:candidate:*"))
    assert not list(redis_client.scan_iter("fs:index:default:group:*"))
    # the two enrolled faces keep their thumbnail (the face library shows it), keyed by the
    # face's id in Milvus; no other JPEG is left anywhere in Redis
    jpegs = {
        key: [f for f, v in redis_client.hgetall(key).items() if v[:2] == b"\xff\xd8"]
        for key in redis_client.scan_iter("*")
        if redis_client.type(key) == b"hash"
    }
    jpegs = {k: v for k, v in jpegs.items() if v}
    assert list(jpegs) == [thumbnails.key(ada).encode()], jpegs
    assert sorted(int(f) for f in jpegs[thumbnails.key(ada).encode()]) == sorted(index.faces(ada))


def test_erasing_a_person_or_the_collection_leaves_no_face(review: Review, redis_client) -> None:
    review.label("g2", "bob")
    assert review.erase_person("bob") == 3
    assert [g.group for g in review.groups()] == ["g1"]
    assert review.erase_all() > 0
    assert not list(redis_client.scan_iter("fs:index:default:*"))
