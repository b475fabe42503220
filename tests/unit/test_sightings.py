"""The run summary is folded in record by record (a live run keeps no records in memory)."""

from facestream.report import Sightings


def rec(frame, track, name, ts=None, camera="door"):
    return {
        "camera": camera,
        "frame": frame,
        "track_id": track,
        "name": name,
        "ts": frame / 10 if ts is None else ts,
    }


def test_named_frames_tracks_and_times_per_person_and_camera():
    seen = Sightings()
    records = [
        rec(0, "t1", "ann"),
        rec(1, "t1", "ann"),
        rec(1, "t2", "ann"),  # two tracks of ann in frame 1
        rec(2, "t3", None),
        rec(5, "t4", "ann"),
        rec(3, "t5", "bob", camera="gate"),
        {"camera": "door", "event": "end", "track_id": "t1", "ts": 0.2},
    ]
    for r in records:
        seen.add(r)
    assert seen.records == len(records)
    rows = seen.rows({"door": 10.0, "gate": 5.0})
    ann = next(r for r in rows if r.name == "ann")
    assert (ann.camera, ann.first_ts, ann.last_ts, ann.seconds, ann.tracks) == (
        "door",
        0.0,
        0.5,
        0.3,
        3,
    )
    bob = next(r for r in rows if r.name == "bob")
    assert (bob.camera, bob.seconds, bob.tracks) == ("gate", 0.2, 1)
    assert [r.name for r in rows] == ["ann", "bob"]  # by camera, then first seen
