import re

import numpy as np
import pytest

from config.errors import ConfigError
from tracker import Faces, IouTracker, TrackIdAllocator

FPS = 25


def faces(*boxes) -> Faces:
    xyxy = np.array(boxes, dtype=np.float32).reshape(-1, 4)
    return Faces(xyxy, np.full(len(xyxy), 0.99, np.float32))


def square(cx: float, cy: float, side: float = 80.0) -> list[float]:
    return [cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]


def test_allocator_counts_per_instance_from_one():
    a, b = TrackIdAllocator("cam"), TrackIdAllocator("cam")
    ids_a = [a.next(), a.next()]
    id_b = b.next()
    assert re.fullmatch(r"cam-[0-9a-f]{6}-1", ids_a[0])
    assert ids_a[1] == f"cam-{a.token}-2"
    assert id_b == f"cam-{b.token}-1"  # no counter shared through the class
    assert a.token != b.token  # 1 in 16M chance of a false failure


def test_new_track_then_continued():
    tr = IouTracker("cam")
    first = tr.update(faces(square(100, 100)), 0.0)
    assert first.is_new == [True] and first.hits == [1] and first.ended == []
    second = tr.update(faces(square(104, 102)), 1 / FPS)
    assert second.track_ids == first.track_ids
    assert second.is_new == [False] and second.hits == [2]
    assert tr.live_tracks == first.track_ids


def test_output_is_index_aligned_with_detections():
    tr = IouTracker("cam")
    a, b = square(100, 100), square(400, 100)
    one = tr.update(faces(a, b), 0.0)
    two = tr.update(faces(b, a), 0.04)  # same faces, listed the other way round
    assert two.track_ids == one.track_ids[::-1]


def test_faces_are_not_mutated():
    tr = IouTracker("cam")
    f = faces(square(100, 100))
    before = f.xyxy.copy()
    tr.update(f, 0.0)
    tr.update(f, 0.04)
    np.testing.assert_array_equal(f.xyxy, before)


@pytest.mark.parametrize("speed, dy", [(8, 40), (20, 10)])
def test_crossing_faces_keep_their_ids(speed, dy):
    """A moves right, B moves left, ``dy`` px apart vertically: their 80 px boxes
    overlap while crossing but never fully. At (20, 10) a tracker matching on the
    last box (no motion model) swaps them; the Kalman prediction must not."""
    tr = IouTracker("cam")
    n = 600 // speed
    ids_a, ids_b = set(), set()
    for i in range(n):
        a = square(100 + speed * i, 200)
        b = square(100 + speed * (n - 1 - i), 200 + dy)
        upd = tr.update(faces(a, b), i / FPS)
        ids_a.add(upd.track_ids[0])
        ids_b.add(upd.track_ids[1])
        assert upd.ended == []
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b
    assert upd.hits == [n, n]


def test_short_gap_keeps_the_id():
    tr = IouTracker("cam", max_lost_s=1.0)
    t, tid = 0.0, None
    for i in range(10):
        t = i / FPS
        tid = tr.update(faces(square(100 + 2 * i, 100)), t).track_ids[0]
    gap = tr.update(Faces.empty(), t + 0.1)
    assert gap.track_ids == [] and gap.ended == []
    back = tr.update(faces(square(100 + 2 * 17, 100)), t + 0.3)
    assert back.track_ids == [tid] and back.is_new == [False] and back.hits == [11]


def test_long_gap_ends_the_track_and_starts_a_new_one():
    tr = IouTracker("cam", max_lost_s=1.0)
    old = tr.update(faces(square(100, 100)), 0.0).track_ids[0]
    tr.update(faces(square(100, 100)), 0.04)
    back = tr.update(faces(square(100, 100)), 0.04 + 1.5)
    assert back.ended == [old]
    assert back.is_new == [True] and back.hits == [1]
    assert back.track_ids[0] != old
    assert tr.live_tracks == back.track_ids


def test_lost_track_ends_on_an_empty_frame():
    tr = IouTracker("cam", max_lost_s=1.0)
    tid = tr.update(faces(square(100, 100)), 0.0).track_ids[0]
    assert tr.update(Faces.empty(), 0.9).ended == []
    upd = tr.update(Faces.empty(), 1.2)
    assert upd.ended == [tid] and tr.live_tracks == []


def test_far_away_detection_is_not_matched():
    tr = IouTracker("cam", iou_min=0.25)
    first = tr.update(faces(square(100, 100)), 0.0)
    far = tr.update(faces(square(300, 300)), 0.04)
    assert far.is_new == [True] and far.track_ids != first.track_ids
    assert sorted(tr.live_tracks) == sorted(first.track_ids + far.track_ids)


def test_two_trackers_never_share_ids():
    one, two = IouTracker("cam"), IouTracker("cam")  # same camera name: a restart
    ids = []
    for tr in (one, two):
        for i in range(5):
            ids += tr.update(faces(square(100 + 300 * i, 100)), float(i)).track_ids
    assert len(ids) == len(set(ids)) == 10


def test_shared_allocator_is_used():
    alloc = TrackIdAllocator("site")
    a, b = IouTracker("cam1", ids=alloc), IouTracker("cam2", ids=alloc)
    ida = a.update(faces(square(100, 100)), 0.0).track_ids[0]
    idb = b.update(faces(square(100, 100)), 0.0).track_ids[0]
    assert (ida, idb) == (f"site-{alloc.token}-1", f"site-{alloc.token}-2")


def test_empty_frames_from_the_start():
    tr = IouTracker("cam")
    upd = tr.update(Faces.empty(), 0.0)
    assert upd.track_ids == [] and upd.is_new == [] and upd.hits == [] and upd.ended == []
    assert tr.reset() == []


def test_reset_ends_all_and_keeps_ids_unique():
    tr = IouTracker("cam")
    first = tr.update(faces(square(100, 100), square(400, 100)), 0.0).track_ids
    assert tr.reset() == first
    assert tr.live_tracks == [] and tr.reset() == []
    tr.update(faces(square(100, 100)), 0.0)
    assert len(tr.reset()) == 1
    assert tr.live_tracks == []
    again = tr.update(faces(square(100, 100)), 0.0)
    assert again.is_new == [True] and again.track_ids[0] not in first


@pytest.mark.parametrize("kwargs", [{"iou_min": 0.0}, {"iou_min": 1.0}, {"max_lost_s": 0.0}])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ConfigError):
        IouTracker("cam", **kwargs)


def test_both_trackers_implement_the_two_method_base():
    from tracker import FaceTracker, Tracker

    for tracker in (IouTracker("cam"), FaceTracker("cam")):
        assert isinstance(tracker, Tracker)
        assert tracker.update(faces(square(100, 100)), 0.0).is_new == [True]
        assert len(tracker.reset()) == 1
