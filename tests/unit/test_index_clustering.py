"""Index mode's grouping: agglomerative clustering at a cosine cut, video tracks kept whole."""

from __future__ import annotations

import numpy as np
import pytest

from config.errors import ConfigError
from facestream.indexing.clustering import cluster_faces, cluster_units


def _people(rng: np.random.Generator, n_people: int, per: int, spread: float) -> np.ndarray:
    centres = rng.normal(size=(n_people, 64))
    faces = np.repeat(centres, per, axis=0) + spread * rng.normal(size=(n_people * per, 64))
    return faces / np.linalg.norm(faces, axis=1, keepdims=True)


def test_faces_of_one_person_share_a_group_and_nobody_else_joins_it():
    rng = np.random.default_rng(0)
    x = _people(rng, 4, 5, 0.1)
    labels = cluster_units(x, 0.9)
    assert labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5


def test_groups_are_numbered_in_order_of_first_appearance():
    rng = np.random.default_rng(1)
    x = _people(rng, 3, 2, 0.05)[[4, 0, 5, 1, 2, 3]]
    assert cluster_units(x, 0.9).tolist() == [0, 1, 0, 1, 2, 2]


def test_a_track_is_never_split_even_when_one_of_its_faces_looks_like_someone_else():
    rng = np.random.default_rng(2)
    x = _people(rng, 2, 3, 0.05)
    # the track of person A holds one face that is really B's (a profile, a blurred shot)
    tracks = ["t1", "t1", "", "", "", "t1"]
    labels = cluster_faces(x[[0, 1, 2, 3, 4, 3]], tracks, 0.9)
    assert labels[0] == labels[1] == labels[5]
    assert len(set(labels.tolist())) <= 3


def test_one_face_and_no_face():
    assert cluster_faces(np.ones((1, 8)), [""], 0.9).tolist() == [0]
    assert cluster_faces(np.zeros((0, 8)), [], 0.9).tolist() == []


def test_bad_arguments_name_the_field():
    with pytest.raises(ConfigError, match="linkage"):
        cluster_units(np.ones((2, 4)), 0.9, "ward")
    with pytest.raises(ConfigError, match="similarity"):
        cluster_units(np.ones((2, 4)), 1.5)
    with pytest.raises(ConfigError, match="tracks"):
        cluster_faces(np.ones((2, 4)), [""], 0.9)


def test_faces_seen_together_never_share_a_group():
    rng = np.random.default_rng(3)
    x = _people(rng, 1, 4, 0.05)  # four faces that look alike (profiles of two people, say)
    tracks = ["a", "a", "b", "b"]
    seen = [("clip", 10, 40), ("clip", 10, 40), ("clip", 30, 60), ("clip", 30, 60)]
    labels = cluster_faces(x, tracks, 0.5, "average", seen)
    assert labels.tolist() == [0, 0, 1, 1]
    later = [("clip", 10, 20), ("clip", 10, 20), ("clip", 30, 60), ("clip", 30, 60)]
    assert cluster_faces(x, tracks, 0.5, "average", later).tolist() == [0, 0, 0, 0]
    two_photos = [("a.jpg", 0, 0), ("a.jpg", 0, 0), ("b.jpg", 0, 0), ("c.jpg", 0, 0)]
    assert len(set(cluster_faces(x, [""] * 4, 0.5, "average", two_photos).tolist())) == 2
