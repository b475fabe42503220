"""The results schema has one home (workers/results.py): record layouts and their checks."""

from __future__ import annotations

import numpy as np
import pytest

from tracker.faces import Faces
from workers.messages import FrameMeta, FrameMsg
from workers.results import EVENT_FIELDS, FACE_FIELDS, event_record, face_record


def test_face_record_has_the_documented_fields_and_clips_the_box() -> None:
    msg = FrameMsg(
        FrameMeta(
            camera="door", run="r", seq=7, ts=0.28001, capture_time=5.0, width=640, height=360
        ),
        faces=Faces(
            np.array([[-5, 10, 700, 90]], np.float32), np.ones(1, np.float32), track_ids=("t",)
        ),
    )
    named = face_record(msg, 0, "t-shown", "Ada", 0.93456, "p-1", None)
    assert tuple(named) == FACE_FIELDS
    assert (
        named["bbox"] == [0.0, 10.0, 640.0, 90.0]
        and named["ts"] == 0.28
        and named["score"] == 0.9346
    )
    assert (
        named["track_id"] == "t-shown" and named["label"] == "Ada" and named["person_id"] == "p-1"
    )
    unknown = face_record(msg, 0, "t", None, 0.5, "p-1", "unknown-ab12")
    assert (
        unknown["person_id"] is None and unknown["label"] == "unknown-ab12"
    )  # no name, no person id


def test_events_and_the_merged_event_s_target() -> None:
    start = event_record("start", "door", 3, 0.1, "t", None, 0.0, "r1")
    assert tuple(start) == EVENT_FIELDS
    merged = event_record("merged", "door", 3, 0.1, "t2", None, 0.0, "r1", into="t1")
    assert merged["into"] == "t1" and tuple(merged) == (*EVENT_FIELDS, "into")
    with pytest.raises(ValueError, match="into"):
        event_record("merged", "door", 3, 0.1, "t2", None, 0.0, "r1")
    with pytest.raises(ValueError, match="event: expected one of"):
        event_record("renamed", "door", 3, 0.1, "t2", None, 0.0, "r1")
