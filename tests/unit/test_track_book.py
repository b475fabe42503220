"""TrackBook: lost-and-found by appearance, deferred ends, calibrated unknowns; ShotPicker; quality."""

import numpy as np

from tracker import Faces
from tracker.book_state import book_state, restore_book
from tracker.identity import IdentityVote
from tracker.quality import face_quality, frontality
from tracker.shots import ShotParams, ShotPicker
from tracker.track_book import BookParams, TrackBook
from workers import codec


def unit(seed, dim=16):
    v = np.random.default_rng(seed).normal(size=dim)
    return v / np.linalg.norm(v)


def book(**kw):
    return TrackBook(lambda: IdentityVote(0.92, 0.02), BookParams(**kw))


def test_new_track_with_a_lost_tracks_face_comes_back_under_its_id():
    b = book(reid_window_s=5.0)
    b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {"p-ada": 0.95})
    b.end(["a"])  # the tracker gave up on it
    assert b.expire(1.0) == []  # within the window: not ended yet
    tr, started = b.seen("b", 30, 3.0)
    assert started and tr.display_id == "b"
    got = b.embedded("b", unit(1) + 0.05 * unit(9), {"p-ada": 0.94})
    tr, merged = got.track, got.merged
    assert tr.display_id == "a" and merged.display_id == "b" and tr.alive
    assert b.get("b").display_id == "a" and tr.vote.observations == 2
    b.end(["b"])
    assert [t.display_id for t in b.expire(3.0 + 5.1)] == ["a"]


def test_a_different_face_or_a_co_visible_track_is_not_merged():
    b = book()
    b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {})
    b.seen("b", 1, 0.1)
    b.seen("a", 1, 0.1)  # a and b seen together: not the same person
    got = b.embedded("b", unit(1), {})
    tr, merged = got.track, got.merged
    assert merged is None and tr.display_id == "b"
    b.seen("c", 2, 0.2)
    got = b.embedded("c", unit(2), {})  # nobody looks like c
    tr, merged = got.track, got.merged
    assert merged is None


def test_too_late_to_come_back():
    b = book(reid_window_s=2.0)
    b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {})
    b.end(["a"])
    assert [t.display_id for t in b.expire(2.5)] == ["a"]
    b.seen("b", 75, 3.0)
    assert b.embedded("b", unit(1), {}).merged is None


def test_old_tracker_id_in_the_same_frame_as_its_successor_gets_a_new_track():
    b = book()
    b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {})
    b.seen("b", 10, 1.0)
    b.embedded("b", unit(1), {})  # b is a
    b.seen("b", 11, 1.1)
    tr, started = b.seen(
        "a", 11, 1.1
    )  # the tracker's 'a' came back by motion, next to b: someone else
    assert started and tr.display_id == "a.11"


def test_old_tracker_id_taken_up_again_gets_its_track_back_and_is_checked():
    b = book()
    b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {})
    b.seen("b", 10, 1.0)
    b.embedded("b", unit(1), {})  # b is a; then the tracker lets b go and takes up 'a' again
    tr, started = b.seen("a", 11, 1.1)
    assert not started and tr.display_id == "a" and tr.owner == "a"
    assert b.embedded("a", unit(1), {}).split_from is None  # same face: nothing happens
    b.seen("b", 12, 1.2)  # and the other way round, on someone else this time
    b.seen("a", 13, 1.3)
    got = b.embedded("a", unit(3), {})
    assert got.split_from.display_id == "a" and got.track.display_id == "a.13"


def test_a_track_taken_up_by_someone_else_is_split_and_waits_to_be_found():
    """occlude scene: A and B pass behind C; B's lost track is taken up, by motion, by A coming out."""
    b = book(reacquire_gap_s=0.3, split_below=0.85)
    for k in range(5):
        b.seen("tA", k, k / 10)
        b.seen("tB", k, k / 10)
    b.embedded("tA", unit(1), {})
    b.embedded("tB", unit(2), {})
    b.end(["tA"])  # A hidden for long: the tracker ends it; B's id is lost but kept
    tr, started = b.seen("tB", 9, 0.9)  # 0.5 s unseen, back by motion: on A
    assert (
        not started
        and tr.display_id == "tB"
        and (tr.verify.last_ts, tr.verify.last_frame) == (0.4, 4)
    )
    got = b.embedded("tB", unit(1), {})
    assert got.split_from.display_id == "tB" and not got.split_from.alive
    assert (
        got.track.display_id == "tA" and got.merged.display_id == "tB.9"
    )  # ... found to be A again
    assert b.get("tB").display_id == "tA"
    assert b.tracks["tB"].last_frame == 4 and b.tracks["tB"].owner == ""
    b.seen("tC", 12, 1.2)  # B comes out as a new tracker id: found to be B
    got = b.embedded("tC", unit(2) + 0.05 * unit(9), {})
    assert got.track.display_id == "tB" and got.merged.display_id == "tC"
    assert (b.splits, b.reidentified) == (1, 2)


def test_the_same_face_back_after_a_gap_stays_on_its_track():
    b = book(reacquire_gap_s=0.3, split_below=0.85)
    b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {})
    b.seen("a", 6, 0.6)
    got = b.embedded(
        "a", unit(1) + 0.2 * unit(9), {}
    )  # partly hidden: less similar, not below the bound
    assert got.split_from is None and got.track.display_id == "a" and b.splits == 0


def test_unknown_needs_evidence_under_the_calibrated_bound():
    b = book(unknown_min_observations=2, unknown_below=0.89)
    tr, _ = b.seen("a", 0, 0.0)
    b.embedded("a", unit(1), {"p-x": 0.70})
    assert not b.is_unknown(tr)
    b.embedded("a", unit(1), {"p-x": 0.72})
    assert b.is_unknown(tr)
    tr2, _ = b.seen("z", 0, 0.0)
    b.embedded("z", unit(5), {"p-x": 0.90})
    b.embedded("z", unit(5), {"p-x": 0.90})
    assert not b.is_unknown(tr2)  # too close to someone to call unknown


def test_shot_picker_first_face_then_better_ones_then_rarely():
    p = ShotPicker(ShotParams(budget=3, better_ratio=1.25, min_gap_s=0.2, refresh_s=2.0))
    q = lambda v: np.array([v], np.float32)  # noqa: E731
    assert p.pick(["a"], q(0.3), 0.0) == [0]  # new track: at once
    # (reacquire_gap_s out of the way: this track is only shown the frames listed here)
    p = ShotPicker(
        ShotParams(
            budget=3, early=1, better_ratio=1.25, min_gap_s=0.2, refresh_s=2.0, reacquire_gap_s=9
        )
    )
    assert p.pick(["a"], q(0.3), 0.0) == [0]
    assert p.pick(["a"], q(0.35), 0.3) == []  # not better enough
    assert p.pick(["a"], q(0.6), 0.1 + 0.3) == [0]  # clearly better
    assert p.pick(["a"], q(0.9), 0.5) == []  # better, but only 0.1 s after the last shot
    assert p.pick(["a"], q(0.9), 0.7) == [0]  # third and last of the budget
    assert p.pick(["a"], q(1.0), 1.5) == []  # budget spent
    assert p.pick(["a"], q(0.5), 2.8) == [0]  # the refresh, 2 s after the last shot
    every = ShotPicker(ShotParams(every_n=1))
    assert all(every.pick(["a", "b"], np.array([0.1, 0.0]), t / 10) == [0, 1] for t in range(5))


def test_quality_prefers_big_sharp_frontal_faces():
    frontal = np.array([[30, 40], [70, 40], [50, 60], [35, 80], [65, 80]], np.float32)
    profile = np.array([[45, 40], [60, 40], [75, 60], [50, 80], [62, 80]], np.float32)
    f = frontality(np.stack([frontal, profile]))
    assert f[0] > 0.8 and f[1] < 0.3
    faces = Faces(
        np.array([[0, 0, 100, 100], [0, 0, 30, 30], [0, 0, 100, 100]], np.float32),
        np.ones(3, np.float32),
        np.stack([frontal, frontal * 0.3, profile]),
    )
    q = face_quality(faces, np.array([400.0, 400.0, 400.0]))
    assert q[0] > q[1] and q[0] > q[2]
    assert (
        face_quality(faces, np.array([400.0, 400.0, 400.0]))[0]
        > face_quality(faces, np.array([5.0] * 3))[0]
    )


def test_shot_picker_takes_early_shots_of_a_new_track():
    p = ShotPicker(ShotParams(early=3, min_gap_s=0.2, refresh_s=2.0))
    q = np.array([0.5], np.float32)
    taken = [t for t in (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0) if p.pick(["a"], q, t)]
    assert taken == [0.0, 0.2, 0.45]  # three early shots 0.2 s apart, then only better ones


def test_shot_picker_takes_a_reacquired_track_again_on_consecutive_frames():
    p = ShotPicker(ShotParams(budget=6, early=3, min_gap_s=0.2, reacquire_gap_s=0.3))
    q = lambda v: np.array([v], np.float32)  # noqa: E731
    picks = [p.pick(["a"], q(0.5), k / 10) for k in range(8)]  # 10 fps
    assert picks == [
        [0],
        [],
        [0],
        [],
        [0],
        [],
        [],
        [],
    ]  # early shots 0.2 s apart, then only better ones
    picks = [
        p.pick(["a"], q(0.5), k / 10) for k in (12, 13, 14, 15)
    ]  # unseen for 0.5 s: taken up by motion
    assert picks == [[0], [0], [0], []]  # on consecutive frames: who is it now?


def test_shot_picker_limit_serves_unnamed_tracks_first_and_defers_the_rest():
    p = ShotPicker(ShotParams(early=3, min_gap_s=0.2, reacquire_gap_s=9))
    assert p.pick(["a"], np.array([0.9], np.float32), 0.0) == [0]  # "a" has its first shot
    # a shot cut: three new faces next to "a", which is due its second early shot; one embedding per frame
    q = np.array([0.9, 0.3, 0.8, 0.5], np.float32)
    ids = ["a", "b", "c", "d"]
    assert p.pick(ids, q, 0.25, limit=1) == [2]  # a new track, the clearest of them
    assert p.pick(ids, q, 0.30, limit=1) == [3]
    assert p.pick(ids, q, 0.35, limit=1) == [1]  # nobody passed over is lost: "b" gets its turn
    assert p.pick(ids, q, 0.40, limit=1) == [0]  # then the named track's due shot
    assert p.pick(ids, q, 0.40, limit=0) == []  # nothing more was due; 0 = no cap
    unlimited = ShotPicker(ShotParams(early=3, min_gap_s=0.2))
    assert unlimited.pick(ids, q, 0.0) == [0, 1, 2, 3]


def test_shot_picker_gaps_survive_float_frame_times():
    p = ShotPicker(ShotParams(early=3, min_gap_s=0.2))
    q = np.array([0.5], np.float32)
    assert [p.pick(["a"], q, k * 0.2) for k in range(3)] == [[0], [0], [0]]  # 5 fps: every frame


def test_a_person_is_announced_once_per_change():
    b = book()
    tr, _ = b.seen("a", 0, 0.0)
    assert b.announce(tr) is None  # nobody yet
    b.embedded("a", unit(1), {"p-ada": 0.95})
    assert b.announce(tr) == "p-ada" and tr.named == "p-ada"
    b.embedded("a", unit(1), {"p-ada": 0.96})
    assert b.announce(tr) is None  # the same person: nothing new


def test_labels_of_tracks_on_screen_together_are_ruled_out_and_those_of_earlier_ones_are_not():
    b = book(reid_window_s=1.0)
    a, _ = b.seen("a", 0, 0.0)
    a.unknown_label = "unknown-aaaa"
    b.seen("a", 5, 0.5)
    c, _ = b.seen("c", 5, 0.5)  # on screen with a from frame 5
    assert b.labels_beside(c) == {"unknown-aaaa"} and b.labels_beside(a) == set()
    b.seen("a", 10, 1.0)
    b.end(["a"])
    b.seen("c", 30, 3.0)
    assert [t.display_id for t in b.expire(3.0)] == ["a"]  # a ended; it overlapped c all the same
    assert b.labels_beside(c) == {"unknown-aaaa"}
    d, _ = b.seen("d", 40, 4.0)  # after a ended: a's label is allowed
    assert b.labels_beside(d) == set()
    b.end(["c"])
    b.seen("d", 80, 8.0)
    b.expire(8.0)  # c ended too: nothing left that a could overlap, so its entry goes
    assert b.ended_labels == [] and b.labels_beside(d) == set()


def test_a_restored_book_decides_every_next_frame_as_the_original():
    def make_vote():
        return IdentityVote(0.92, 0.02)

    def feed(b, seq, tid, vec, scores):
        b.seen(tid, seq, seq / 10)
        got = b.embedded(tid, vec, scores)
        return got.track.display_id, got.track.vote.person_id, got.identity_changed

    a = TrackBook(make_vote, BookParams(reid_window_s=5.0))
    feed(a, 0, "t1", unit(1), {"p-ada": 0.95})
    feed(a, 1, "t2", unit(2), {"p-ada": 0.3})
    a.seen("t1", 2, 0.2)
    a.end(["t1"])
    a.tracks["t2"].unknown_label = "unknown-beef"
    b = restore_book(codec.decode(codec.encode(book_state(a))), make_vote, a.params)
    assert codec.encode(book_state(b)) == codec.encode(book_state(a))
    steps = [(30, "t3", unit(1) + 0.05 * unit(9), {"p-ada": 0.94}), (31, "t2", unit(2), {})]
    assert [feed(a, *s) for s in steps] == [feed(b, *s) for s in steps]
    assert [t.display_id for t in a.expire(40.0)] == [t.display_id for t in b.expire(40.0)]
    assert codec.encode(book_state(b)) == codec.encode(book_state(a))


def test_two_faces_on_screen_together_are_never_the_same_person():
    b = book()
    b.seen("big", 0, 0.0)
    b.seen("tiny", 0, 0.0)
    b.embedded("big", unit(1), {"p-ada": 0.99, "p-bob": 0.5})
    # a small face in the same frame that looks a little like ada: ada is on screen elsewhere
    got = b.embedded("tiny", unit(2), {"p-ada": 0.93, "p-bob": 0.5})
    assert got.track.vote.person_id is None and b.get("big").vote.person_id == "p-ada"
    # the same scores once ada's track has ended and left: nothing forbids it then
    b.end(["big"])
    b.expire(100.0)
    b.seen("later", 200, 8.0)
    assert b.embedded("later", unit(3), {"p-ada": 0.93}).track.vote.person_id == "p-ada"


def test_the_better_of_two_simultaneous_tracks_takes_the_person_from_the_other():
    b = book()
    b.seen("first", 0, 0.0)
    b.embedded("first", unit(1), {"p-ada": 0.93})
    assert b.get("first").vote.person_id == "p-ada"
    b.seen("second", 1, 0.04)
    b.seen("first", 1, 0.04)
    got = b.embedded("second", unit(2), {"p-ada": 0.99})
    assert got.identity_changed and got.track.vote.person_id == "p-ada"
    # at once, not at its next face: ada is the other one, the first is nobody enrolled now
    assert b.get("first").vote.person_id is None
    got = b.embedded("first", unit(1), {"p-ada": 0.93})  # nor does it take her back
    assert not got.identity_changed and got.track.vote.person_id is None
