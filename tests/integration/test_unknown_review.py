"""Unknown labels reviewed on a real Redis and a real milvus-lite: label, reject, merge, bad input.

The labels are handed out by the real UnknownFaces (what the matcher calls) for vectors made here
(unit vectors around a centre per face), so each action's effect on Milvus and Redis can be checked
exactly; tests/e2e/test_unknown_review_e2e.py does the same on the crowd clip with the real models.
"""

from __future__ import annotations

import numpy as np
import pytest

from config.errors import ConfigError
from config.settings import Settings
from facestream.indexing.unknown_review import (
    LabelGone,
    LabelMissing,
    UnknownReview,
    label_names,
    labels_of_person,
    most_typical,
)
from facestream.services import Services
from workers import keys
from workers.gallery.unknowns import list_unknowns
from workers.models.registry import spec

DIM = spec("dlib").dim


def _views(rng: np.random.Generator, centre: np.ndarray, n: int) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        v = centre + 0.05 * rng.normal(size=DIM)
        out.append((v / np.linalg.norm(v)).astype(np.float32))
    return out


@pytest.fixture
def seen(settings: Settings, stack, redis_client, milvus_client):
    """Two strangers seen by the cameras: four tracks of face A (one label), two of face B."""
    services = Services(settings, stack)
    gallery = services.gallery("default")
    unknowns = gallery.unknowns("dlib")
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=DIM), rng.normal(size=DIM)
    label_a = {unknowns.label_for(v, "door", 100.0 + i) for i, v in enumerate(_views(rng, a, 4))}
    label_b = {unknowns.label_for(v, "hall", 200.0) for v in _views(rng, b, 2)}
    assert len(label_a) == len(label_b) == 1 and label_a != label_b
    unknowns.track_ended(next(iter(label_a)), 40, 110.0)
    return services, gallery, label_a.pop(), label_b.pop()


def _rows(gallery, label: str) -> list[dict]:
    return gallery.milvus.query(
        gallery.unknowns("dlib").collection,
        filter=f'label == "{label}"',
        output_fields=["id"],
        consistency_level="Strong",
    )


def test_labelling_enrolls_the_most_typical_vectors_and_retires_the_label(seen) -> None:
    services, gallery, label_a, label_b = seen
    review = UnknownReview(gallery, best_per_person=3)
    got = review.label(label_a, "  guest one ")
    assert got.name == "guest one" and got.vectors == 4 and got.enrolled == {"dlib": 3}
    person = gallery.people.get(got.person_id)
    assert person is not None and person.faces == {"dlib": 3}
    assert len(gallery.index("dlib").faces(got.person_id)) == 3
    assert _rows(gallery, label_a) == []
    assert [u.label for u in list_unknowns(services.redis)] == [label_b]
    assert not services.redis.exists(keys.unknown(label_a))
    assert label_names(services.redis, "default") == {label_a: "guest one"}
    # the label is never handed out again: the same face is now a match, not an unknown
    assert review.label(label_b, "guest one").person_id == got.person_id  # same name: reused
    assert gallery.people.get(got.person_id).faces == {"dlib": 5}
    assert labels_of_person(services.redis, "default", got.person_id) == sorted([label_a, label_b])


def test_a_renamed_person_names_the_label_by_the_new_name(seen) -> None:
    services, gallery, label_a, _ = seen
    got = UnknownReview(gallery, 5).label(label_a, "guest one")
    gallery.people.rename(got.person_id, "Ada")
    assert label_names(services.redis, "default") == {label_a: "Ada"}


def test_rejecting_leaves_nothing_of_the_label(seen) -> None:
    services, gallery, label_a, label_b = seen
    assert UnknownReview(gallery, 5).reject(label_a) == 4
    assert _rows(gallery, label_a) == []
    assert not services.redis.exists(keys.unknown(label_a))
    assert [u.label for u in list_unknowns(services.redis)] == [label_b]
    assert label_names(services.redis, "default") == {}
    assert gallery.people.all() == []


def test_merging_moves_vectors_and_counts_and_names_both_when_labelled(seen) -> None:
    services, gallery, label_a, label_b = seen
    review = UnknownReview(gallery, 10)
    merged = review.merge(label_b, [label_a])
    assert merged.label == label_b
    assert (merged.tracks, merged.faces) == (6, 40)
    assert merged.first_seen == 100.0 and merged.last_seen == 200.0
    assert merged.cameras == ("door", "hall")
    assert len(_rows(gallery, label_b)) == 6 and _rows(gallery, label_a) == []
    assert not services.redis.exists(keys.unknown(label_a))
    with pytest.raises(LabelGone, match="merged into"):
        review.label(label_a, "x")
    got = review.label(label_b, "pair")
    assert got.enrolled == {"dlib": 6}
    assert label_names(services.redis, "default") == {label_a: "pair", label_b: "pair"}


def test_rejecting_a_merged_label_forgets_what_pointed_at_it(seen) -> None:
    services, gallery, label_a, label_b = seen
    review = UnknownReview(gallery, 10)
    review.merge(label_b, [label_a])
    assert review.reject(label_b) == 6
    assert services.redis.hlen(keys.unknown_became("default")) == 0
    assert list_unknowns(services.redis) == []


def test_bad_labels_and_merges_are_refused_by_name(seen) -> None:
    _, gallery, label_a, label_b = seen
    review = UnknownReview(gallery, 5)
    with pytest.raises(ConfigError, match="label: expected an unknown label like"):
        review.label("p-123", "x")
    with pytest.raises(LabelMissing, match="not an unknown label of collection 'default'"):
        review.reject("unknown-00000000")
    with pytest.raises(ConfigError, match="others: expected distinct labels other than"):
        review.merge(label_a, [label_a])
    with pytest.raises(ConfigError, match="others: expected distinct labels"):
        review.merge(label_a, [])
    with pytest.raises(ConfigError, match="person name: expected 1-64 printable"):
        review.label(label_a, "a/b")
    assert len(_rows(gallery, label_a)) == 4  # nothing happened to a refused label
    # another collection never sees the default collection's labels
    with pytest.raises(LabelMissing):
        UnknownReview(gallery_of(seen, "other"), 5).reject(label_b)


def gallery_of(seen, name: str):
    services = seen[0]
    from workers.gallery.collections import Collections

    Collections(services.redis).create(name)
    return services.gallery(name)


def test_most_typical_puts_the_stray_view_last() -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=DIM)
    views = np.stack(_views(rng, centre, 5) + _views(rng, rng.normal(size=DIM), 1))
    assert not any(np.array_equal(v, views[5]) for v in most_typical(views, 5))


def test_a_stale_row_of_a_retired_label_never_brings_it_back(seen) -> None:
    """A matcher whose search still saw a label being labelled (another process sees a delete
    within a few seconds) adds a row under it after it went: the next search finding that row
    drops it and does not hand the label out again. A merged label's row leads to its new one."""
    services, gallery, label_a, label_b = seen
    unknowns = gallery.unknowns("dlib")
    rng = np.random.default_rng(5)
    review = UnknownReview(gallery, 5)
    review.label(label_a, "guest one")
    stale = _views(rng, rng.normal(size=DIM), 1)[0]
    gallery.milvus.insert(unknowns.collection, [{"label": label_a, "vector": stale.tolist()}])
    fresh = unknowns.label_for(stale, "door", 300.0)
    assert fresh not in (label_a, label_b)
    assert _rows(gallery, label_a) == []
    assert label_a not in {u.label for u in list_unknowns(services.redis)}

    review.merge(label_b, [fresh])
    other = _views(rng, rng.normal(size=DIM), 1)[0]
    gallery.milvus.insert(unknowns.collection, [{"label": fresh, "vector": other.tolist()}])
    assert unknowns.label_for(other, "door", 400.0) == label_b
    assert _rows(gallery, fresh) == []
    assert unknowns.label_for(other, "door", 401.0, exclude={label_b}) not in (fresh, label_b)
