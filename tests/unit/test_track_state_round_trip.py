"""The tracker's per-camera state as plain values and back: a tracker restored from its state
at any frame passes on, byte for byte, what one that never stopped passes on (real detections of
hamilton_360p, frames arriving out of order so that the reorder buffer holds some at the stop)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.sections import TrackSettings
from tests.support.track_clip import CAMERA, detected_frames
from workers import codec
from workers.messages import FrameMsg
from workers.track import TrackHandler
from workers.track_state import camera_state


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.01
        return self.now


@pytest.fixture(scope="module")
def arrivals(examples_dir: Path) -> list[FrameMsg]:
    """The clip's frames as two detector processes deliver them: pairs swapped now and then."""
    frames = list(detected_frames(examples_dir / "hamilton_360p.mp4"))
    for i in range(3, len(frames) - 2, 7):
        frames[i], frames[i + 1] = frames[i + 1], frames[i]
    return frames


def passed_on(handler: TrackHandler, msgs: list[FrameMsg]) -> list[bytes]:
    """What ``handler`` passes on, its random per-tracker token in track ids made equal."""
    out = [out.to_bytes() for m in msgs for _, out in handler.handle(m)]
    token = f"-{handler.cameras[CAMERA].tracker._ids.token}-".encode()
    return [b.replace(token, b"-TTTTTT-") for b in out]


def state_of(handler: TrackHandler) -> bytes:
    """The camera's state as stored, the token made equal (the reorder buffer must be empty:
    its arrival times depend on the clock)."""
    st = handler.cameras[CAMERA]
    assert len(st.reorder) == 0
    return codec.encode(camera_state(st, 0.0)).replace(st.tracker._ids.token.encode(), b"TTTTTT")


def restored(handler: TrackHandler, settings: TrackSettings, clock: Clock) -> TrackHandler:
    """A new handler holding, through msgpack, the state ``handler`` had."""
    fresh = TrackHandler(settings, clock=clock)
    data = codec.decode(codec.encode(camera_state(handler.cameras[CAMERA], clock())))
    fresh.cameras[CAMERA] = fresh._restore(CAMERA, data)
    return fresh


@pytest.mark.parametrize("kind", ["face", "iou"])
def test_restored_tracker_passes_on_what_an_unstopped_one_does(
    arrivals: list[FrameMsg], kind: str
) -> None:
    settings = TrackSettings(kind=kind)
    clock = Clock()
    unstopped = TrackHandler(settings, clock=clock)
    want = passed_on(unstopped, arrivals[:-1])
    # the outputs carry detected boxes, not the filters' estimates: compare those as well, to
    # the last bit, before the end of stream ends every track
    want_state = state_of(unstopped)
    want += passed_on(unstopped, arrivals[-1:])
    assert sum(len(FrameMsg.from_bytes(b).faces) for b in want) > 40  # real faces, tracked
    for stop in (1, 4, 11, 38, 60, 97, len(arrivals) - 1):
        first = TrackHandler(settings, clock=clock)
        got = passed_on(first, arrivals[:stop])
        again = restored(first, settings, clock)
        got += passed_on(again, arrivals[stop:-1])
        assert state_of(again) == want_state, f"stopped after {stop} frames"
        got += passed_on(again, arrivals[-1:])
        assert got == want, f"stopped after {stop} frames"


def test_a_buffered_frame_survives_the_restore(arrivals: list[FrameMsg]) -> None:
    """Frame 4 came before 3 (one pair swapped): stopped then, the restored buffer still has it."""
    settings, clock = TrackSettings(), Clock()
    first = TrackHandler(settings, clock=clock)
    passed_on(first, arrivals[:4])
    assert len(first.cameras[CAMERA].reorder) == 1
    again = restored(first, settings, clock)
    assert [m.seq for _, m in again.handle(arrivals[4])] == [3, 4]
