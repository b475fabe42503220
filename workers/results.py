"""The results schema: every record written to ``fs:results`` is built here, and only here.

Records are plain dicts so that any msgpack reader can consume the stream
without this package. Two kinds:

- a face record: one tracked face in one processed frame (``face_record``);
- a lifecycle event: ``start``, ``identified``, ``merged`` (with ``into``: a
  young track found to be an older one, whose records went out under its own id)
  and ``end`` (``event_record``); ``frame``/``ts`` say where it happened.

``track_id`` is always the id reported to users (``TrackBook``'s display id), and
``label`` is the person's name, else the track's stable ``unknown-...`` label.
"""

from __future__ import annotations

from workers.messages import FrameMsg

FACE_FIELDS = (
    "camera",
    "frame",
    "ts",
    "track_id",
    "name",
    "person_id",
    "score",
    "bbox",
    "capture_time",
    "label",
    "run",
)
EVENT_FIELDS = ("event", "camera", "frame", "ts", "track_id", "name", "score", "run")
EVENTS = ("start", "identified", "merged", "end")


def face_record(
    msg: FrameMsg,
    i: int,
    track_id: str,
    name: str | None,
    score: float,
    person_id: str | None,
    unknown_label: str | None,
) -> dict:
    """Face ``i`` of ``msg``, reported as ``track_id``; ``person_id`` only when it has a name."""
    w, h = msg.width, msg.height
    x1, y1, x2, y2 = msg.faces.xyxy[i].clip(0, [w, h, w, h]).round(1).tolist()
    return {
        "camera": msg.camera,
        "frame": msg.seq,
        "ts": round(msg.ts, 3),
        "track_id": track_id,
        "name": name,
        "person_id": person_id if name else None,
        "score": round(float(score), 4),
        "bbox": [x1, y1, x2, y2],
        "capture_time": msg.capture_time,
        "label": name or unknown_label,
        "run": msg.run,  # one id per start of a source: reports select one run of a camera
    }


def event_record(
    event: str,
    camera: str,
    frame: int,
    ts: float,
    track_id: str,
    name: str | None,
    score: float,
    run: str,
    into: str | None = None,
) -> dict:
    """A lifecycle event of the track's ``run``; ``into`` (the surviving track) only for
    ``merged``."""
    if event not in EVENTS:
        raise ValueError(f"event: expected one of {EVENTS}, got {event!r}")
    if (event == "merged") != (into is not None):
        raise ValueError(
            f"into: expected a track id exactly for 'merged' events, got {into!r} for {event!r}"
        )
    record = {
        "event": event,
        "camera": camera,
        "frame": frame,
        "ts": round(ts, 3),
        "track_id": track_id,
        "name": name,
        "score": round(float(score), 4),
        # the track's run, not the message's: a new run's first frame ends the old run's tracks
        "run": run,
    }
    if into is not None:
        record["into"] = into
    return record
