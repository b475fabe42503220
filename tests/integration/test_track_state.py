"""The tracker's state across restarts, on a real Redis: a tracker replaced at any frame (a killed
process), before or after its commit, or two trackers sharing one camera's frames, pass on
exactly what one undisturbed tracker passes on (real detections of hamilton_360p)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.track_clip import CAMERA, detected_frames
from workers import codec, keys
from workers.messages import FrameMsg
from workers.track import TrackHandler
from workers.track_state import TrackState


@pytest.fixture(scope="module")
def arrivals(examples_dir: Path) -> list[FrameMsg]:
    """The clip's frames as two detector processes deliver them: pairs swapped now and then."""
    frames = list(detected_frames(examples_dir / "hamilton_360p.mp4"))
    for i in range(3, len(frames) - 2, 7):
        frames[i], frames[i + 1] = frames[i + 1], frames[i]
    return frames


def tracker(redis_client) -> TrackHandler:
    return TrackHandler(state=TrackState(redis_client, 10_000))


def process(h: TrackHandler, m: FrameMsg) -> None:
    """What the runtime does with one entry: handle, then commit (outputs + state)."""
    assert h.commit(m, h.handle(m))


def passed_on(redis_client) -> list[bytes]:
    """fs:tracked, the tracker's random per-run token in track ids made equal; then a clean
    slate."""
    token = codec.decode(redis_client.hget(keys.track_state(CAMERA), "state"))["tracker"]["ids"][1]
    same = f"-{token}-".encode()  # as long as the token, so that the payload stays msgpack
    out = [f[b"m"].replace(same, b"-TTTTTT-") for _, f in redis_client.xrange(keys.TRACKED)]
    redis_client.flushall()
    return out


def undisturbed(redis_client, arrivals: list[FrameMsg]) -> list[bytes]:
    h = tracker(redis_client)
    for m in arrivals:
        process(h, m)
    return passed_on(redis_client)


def test_trackers_killed_before_and_after_commits_pass_on_what_one_does(
    redis_client, arrivals: list[FrameMsg]
) -> None:
    want = undisturbed(redis_client, arrivals)
    assert sum(len(FrameMsg.from_bytes(b).faces) for b in want) > 40
    h = tracker(redis_client)
    for i, m in enumerate(arrivals):
        if i in (5, 40, 81):  # killed after the commit of frame i - 1, before its ack
            h = tracker(redis_client)
            process(h, arrivals[i - 1])  # redelivered: passes nothing on again
        if i in (23, 64, 110):  # killed while handling frame i, before its commit
            h.handle(m)
            h = tracker(redis_client)
        process(h, m)
    assert passed_on(redis_client) == want


def test_two_trackers_sharing_a_camera_pass_on_what_one_does(
    redis_client, arrivals: list[FrameMsg]
) -> None:
    """Each commit checks the stored version: a tracker behind the other reloads and redoes."""
    want = undisturbed(redis_client, arrivals)
    a, b = tracker(redis_client), tracker(redis_client)
    for i, m in enumerate(arrivals):
        process(a if i % 3 else b, m)
    assert passed_on(redis_client) == want
