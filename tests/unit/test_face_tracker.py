"""FaceTracker: two-stage association by motion, lifecycle in seconds, never rewinding."""

import numpy as np
import pytest

from config.errors import ConfigError
from tracker import Faces
from tracker.face_tracker import CONFIRMED, LOST, TENTATIVE, FaceTracker, TrackerParams


def faces(*boxes, conf=0.99, emb=None) -> Faces:
    xyxy = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    c = np.full(len(xyxy), conf, np.float32) if np.isscalar(conf) else np.asarray(conf, np.float32)
    return Faces(xyxy, c, None, None if emb is None else np.asarray(emb, np.float32))


def square(cx, cy, side=80.0):
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def unit(seed, dim=16):
    v = np.random.default_rng(seed).normal(size=dim)
    return v / np.linalg.norm(v)


def test_lifecycle_tentative_confirmed_lost_removed_in_seconds():
    tr = FaceTracker("cam", TrackerParams(min_hits=2, lost_window_s=1.0))
    first = tr.update(faces(square(100, 100)), 0.0)
    tid = first.track_ids[0]
    assert first.is_new == [True] and tr.track(tid).state == TENTATIVE
    tr.update(faces(square(102, 100)), 0.1)
    assert tr.track(tid).state == CONFIRMED
    tr.update(faces(), 0.2)
    assert tr.track(tid).state == LOST
    assert tr.update(faces(), 1.05).ended == []  # 0.95 s unseen: still within the window
    assert tr.update(faces(), 1.2).ended == [tid]
    assert tr.live_tracks == []


@pytest.mark.parametrize("fps", [5, 10, 30])
def test_same_behaviour_at_any_frame_rate(fps):
    """Lost for 0.8 s then back where the motion says: same id at every rate."""
    tr = FaceTracker("cam", TrackerParams(lost_window_s=1.0))
    ids = set()
    for k in range(int(3 * fps)):
        t = k / fps
        visible = not 1.0 <= t < 1.8
        u = tr.update(faces(square(100 + 40 * t, 100)) if visible else faces(), t)
        ids.update(i for i in u.track_ids if i)
    assert len(ids) == 1


def test_unconfirmed_track_dies_quickly():
    tr = FaceTracker("cam", TrackerParams(tentative_lost_s=0.3))
    tid = tr.update(faces(square(100, 100)), 0.0).track_ids[0]
    assert tr.update(faces(), 0.4).ended == [tid]


def test_low_confidence_face_continues_a_track_but_never_starts_one():
    tr = FaceTracker("cam", TrackerParams(high_confidence=0.95))
    a = tr.update(faces(square(100, 100)), 0.0).track_ids[0]
    tr.update(faces(square(103, 100)), 0.04)
    u = tr.update(faces(square(106, 100), square(400, 300), conf=[0.91, 0.91]), 0.08)
    assert u.track_ids == [a, None]  # the stray low-confidence face gets no track


@pytest.mark.parametrize("speed, dy", [(8, 0), (8, 40), (20, 10)])
def test_crossing_faces_keep_their_ids(speed, dy):
    tr = FaceTracker("cam")
    ids_a, ids_b = set(), set()
    for k in range(60):
        a, b = square(100 + speed * k, 200), square(100 + speed * 59 - speed * k, 200 + dy)
        if dy == 0 and abs(a[0] - b[0]) < 40:  # fully overlapping: only the front face is detected
            u = tr.update(faces(b), k / 25)
            ids_b.add(u.track_ids[0])
            continue
        u = tr.update(faces(a, b), k / 25)
        ids_a.add(u.track_ids[0])
        ids_b.add(u.track_ids[1])
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b


def test_motion_only_a_face_back_elsewhere_starts_a_new_track():
    """The tracker runs before the embedder: it never looks at appearance, even when embeddings are given;
    the matcher's TrackBook finds that the new track is an old one."""
    tr = FaceTracker("cam", TrackerParams(lost_window_s=3.0))
    ea = unit(1)
    a = tr.update(faces(square(100, 100), emb=[ea]), 0.0).track_ids[0]
    tr.update(faces(square(102, 100), emb=[ea]), 0.1)
    tr.update(faces(), 0.5)  # leaves
    u = tr.update(faces(square(600, 300), emb=[ea]), 1.5)  # back on the far side, same appearance
    assert u.track_ids[0] != a and u.is_new == [True]


def test_reset_ends_every_track_and_ids_keep_counting():
    tr = FaceTracker("cam")
    first = tr.update(faces(square(100, 100), square(400, 100)), 0.0).track_ids
    assert tr.reset() == first and tr.live_tracks == [] and tr.reset() == []
    again = tr.update(faces(square(100, 100)), 0.1)
    assert again.is_new == [True] and again.track_ids[0] not in first


def test_late_update_is_counted_and_never_rewinds():
    tr = FaceTracker("cam")
    a = tr.update(faces(square(100, 100)), 1.0).track_ids[0]
    tr.update(faces(square(110, 100)), 1.1)
    before = tr.track(a).kalman.xyxy.copy()
    late = tr.update(faces(square(50, 50)), 0.5)
    assert late.track_ids == [None] and tr.late == 1
    np.testing.assert_array_equal(tr.track(a).kalman.xyxy, before)
    assert tr.update(faces(square(120, 100)), 1.2).track_ids == [a]


def test_ids_are_per_instance_and_unique():
    a, b = FaceTracker("cam"), FaceTracker("cam")
    ia = a.update(faces(square(100, 100)), 0.0).track_ids[0]
    ib = b.update(faces(square(100, 100)), 0.0).track_ids[0]
    assert ia != ib and ia.endswith("-1") and ib.endswith("-1")
    a.reset()
    assert a.update(faces(square(100, 100)), 0.0).track_ids[0].endswith("-2")


def test_bad_params_are_refused():
    with pytest.raises(ConfigError, match="lost_window_s"):
        FaceTracker("cam", TrackerParams(lost_window_s=0))
