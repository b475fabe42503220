"""The labelling and scoring of the composited scenes' faces in the embedder benchmarks."""

from __future__ import annotations

import numpy as np

from bench.scene_faces import match_truth, named_scores


def test_each_detection_takes_the_truth_it_overlaps_most_and_each_truth_once() -> None:
    truth = np.array([[0, 0, 10, 10], [20, 0, 30, 10]], np.float32)
    dets = np.array([[21, 0, 31, 10], [0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    assert match_truth(dets, truth) == [1, 0, None, None]
    assert match_truth(dets, np.zeros((0, 4), np.float32)) == [None] * 4


def test_precision_counts_names_given_and_recall_counts_faces_of_enrolled_people() -> None:
    labels = ["obama", "obama", "biden", "paul_rudd", "paul_rudd"]
    names = ["obama", None, "obama", "biden", None]
    r = named_scores(names, labels)
    assert (r["named"], r["wrong"], r["enrolled_faces"]) == (3, 2, 3)
    assert r["precision"] == 1 / 3 and r["recall"] == 1 / 3
    assert r["wrong_names"] == {"biden named obama": 1, "paul_rudd named biden": 1}
