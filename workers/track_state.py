"""The tracker stage's per-camera state in Redis, committed in one step with the frames it
passes on.

What the tracker knows of a camera decides every later frame: its live tracks (Kalman
filters, hits, lifecycle), the id counter, each track's shot budget, the last frame's scene
histogram (shot cuts), the boxes carried over frames without detection, and the reorder
buffer (frames that came early, already acked, waiting for a missing one). Lost with a killed
process, a restarted tracker would give every face a new track id and end the old tracks at
the kill. So after every frame (and every release of frames whose predecessor never came) one
script (``workers.state_commit``) checks the stored version, appends the released frames to
``fs:tracked`` and stores the camera's state under ``keys.track_state(camera)``.

The tracker needs no done bit of its own: the state's next seq and buffered seqs are it. A
tracker killed before its commit left nothing of the frame (redelivered, redone from the
state of the frame before); one killed after it finds the redelivered frame behind its next
seq or already buffered, and passes nothing on twice.

The reorder buffer's arrival times are monotonic times of the process that stored them: they
travel as ages, so a restored buffer waits at most its full wait again for a missing frame.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import redis

from config.errors import MessageError
from tracker.base import Tracker
from tracker.faces import Faces
from tracker.reorder import ReorderBuffer
from tracker.shots import ShotPicker
from tracker.tracker_state import shots_state, tracker_state
from workers import codec, keys
from workers.carry import BoxCarrier
from workers.handler import Output
from workers.messages import FrameMsg
from workers.scene import CutDetector
from workers.state_commit import CONFLICT, StateCommit

log = logging.getLogger(__name__)
STATE_VERSION = 1


@dataclass
class CameraState:
    run: str
    tracker: Tracker
    reorder: ReorderBuffer
    cuts: CutDetector
    shots: ShotPicker
    next_seq: int = 0
    late: int = 0
    carrier: BoxCarrier = field(default_factory=BoxCarrier)  # boxes for frames without detection
    version: int = 0  # the stored version this state was loaded from or last committed as


def _faces(f: Faces) -> list:
    return [f.xyxy, f.confidence, f.landmarks, f.embeddings, f.sharpness, f.track_ids]


def _restore_faces(row: list) -> Faces:
    xyxy, confidence, landmarks, embeddings, sharpness, track_ids = row
    return Faces(xyxy, confidence, landmarks, embeddings, sharpness, track_ids)


def camera_state(st: CameraState, now: float) -> dict:
    """The camera's state as plain values, for msgpack; ``now`` is the reorder buffer's clock."""
    c, r = st.carrier, st.reorder
    return {
        "v": STATE_VERSION,
        "run": st.run,
        "next_seq": st.next_seq,
        "late": st.late,
        "tracker": tracker_state(st.tracker),
        "shots": shots_state(st.shots),
        "cuts": [st.cuts._previous, st.cuts.cuts],  # this module is their other half
        "carrier": [c.max_carry_s, c._t, list(c._ids), _faces(c._faces), c._velocity],
        "reorder": {
            "wait_s": r.wait_s,
            "max_items": r.max_items,
            "next_seq": r.next_seq,
            "skipped": r.skipped,
            "late": r.late,
            "pending": [
                [seq, msg.to_bytes(), now - arrival] for seq, (msg, arrival) in r._pending.items()
            ],
        },
    }


# (stored state's "tracker" part) -> the tracker, with the handler's settings
TrackerFactory = Callable[[dict], Tracker]


def restore_camera(
    data: dict,
    restore_tracker: TrackerFactory,
    shots: Callable[[list], ShotPicker],
    cut_threshold: float,
    now: float,
) -> CameraState:
    """The camera ``camera_state`` described; the settings come from the caller."""
    if data.get("v") != STATE_VERSION:
        raise MessageError(
            f"tracker camera state field 'v': expected {STATE_VERSION}, got {data.get('v')!r}"
        )
    cuts = CutDetector(cut_threshold)
    previous, cuts.cuts = data["cuts"]
    cuts._previous = None if previous is None else np.array(previous)
    max_carry_s, t, ids, faces, velocity = data["carrier"]
    carrier = BoxCarrier(max_carry_s)
    carrier._t, carrier._ids = t, tuple(ids)
    carrier._faces, carrier._velocity = _restore_faces(faces), np.array(velocity)
    r = data["reorder"]
    reorder = ReorderBuffer(r["wait_s"], r["max_items"], r["next_seq"])
    reorder.skipped, reorder.late = r["skipped"], r["late"]
    for seq, payload, age in r["pending"]:
        reorder._pending[int(seq)] = (FrameMsg.from_bytes(payload), now - age)
    return CameraState(
        run=data["run"],
        tracker=restore_tracker(data["tracker"]),
        reorder=reorder,
        cuts=cuts,
        shots=shots(data["shots"]),
        next_seq=data["next_seq"],
        late=data["late"],
        carrier=carrier,
    )


class TrackState:
    """Load and commit the tracker's state of each camera in one Redis."""

    def __init__(self, client: redis.Redis, stream_maxlen: int):
        self.redis = client
        self.stream_maxlen = stream_maxlen
        self._store = StateCommit(client)

    def load(
        self, camera: str, restore: Callable[[dict], CameraState]
    ) -> tuple[CameraState | None, int]:
        """(the camera's committed state or None, the stored version)."""
        version, raw = self._store.load(keys.track_state(camera))
        if raw is None:
            return None, version
        try:
            st = restore(codec.decode(raw))
        except (MessageError, KeyError, TypeError, ValueError) as exc:
            # a state from an incompatible version: start the camera afresh rather than stop it
            log.warning("tracker state of camera %s unreadable (%s): starting afresh", camera, exc)
            return None, version
        st.version = version
        return st, version

    def commit(self, camera: str, st: CameraState, outputs: list[Output], now: float) -> int:
        """Publish ``outputs`` (frames for ``fs:tracked``) and store ``st``, in one step: the new
        version, or CONFLICT when the stored state moved on meanwhile."""
        state = codec.encode(camera_state(st, now))
        items = []
        for stream, msg in outputs:
            if not isinstance(msg, FrameMsg):
                raise TypeError(f"tracker output to {stream}: expected a FrameMsg, got {msg!r:.80}")
            items.append((stream, msg.to_bytes(), self.stream_maxlen))
        got = self._store.commit(keys.track_state(camera), st.version, state, items)
        if got != CONFLICT:
            st.version = got
        return got
