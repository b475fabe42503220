"""A file's frames reach the matcher's book in seq order (workers/match_order.py), on a real
Redis: what is waited for, what is not."""

from __future__ import annotations

import time

import pytest

from tracker.identity import IdentityVote
from tracker.track_book import TrackBook
from workers.handler import NotYet
from workers.match_order import InOrder
from workers.match_state import CameraState
from workers.messages import FrameMeta, FrameMsg
from workers.progress import RunProgress


def _msg(seq: int, run: str, live: bool = False) -> FrameMsg:
    meta = FrameMeta("door", run, seq, seq / 25, time.time(), 64, 48, 60.0 if live else None)
    return FrameMsg(meta)


def _state(run: str) -> CameraState:
    return CameraState(run, TrackBook(lambda: IdentityVote(0.5, 0.05)), next_seq=0)


def test_a_file_frame_waits_for_its_published_predecessors(redis_client) -> None:
    run = f"r-{time.monotonic_ns()}"
    RunProgress(redis_client, "door", run).count_published(5)
    order, st = InOrder(redis_client, max_wait_s=60), _state(run)
    with pytest.raises(NotYet, match="frame 2 waits for frame 0"):
        order.check(st, _msg(2, run))
    order.check(st, _msg(0, run))
    order.applied(st, _msg(0, run))
    RunProgress(redis_client, "door", run).commit(1, "dead_letter:embed")  # accounted elsewhere
    order.check(st, _msg(2, run))  # frame 1 will never come: not waited for
    order.applied(st, _msg(2, run))
    assert st.next_seq == 3
    with pytest.raises(NotYet, match="frame 9 waits for frame 3"):
        order.check(st, _msg(9, run))
    order.applied(st, _msg(4, run))  # (3 and 4 went in meanwhile)
    order.check(st, _msg(9, run))  # 5-8 never published (no grabber counted them): no wait


def test_live_frames_go_as_they_come_and_a_wait_is_bounded(redis_client) -> None:
    run = f"r-{time.monotonic_ns()}"
    RunProgress(redis_client, "door", run).count_published(5)
    st = _state(run)
    InOrder(redis_client, max_wait_s=60).check(st, _msg(3, run, live=True))
    st = _state(run)
    impatient = InOrder(redis_client, max_wait_s=0.0)
    impatient.check(st, _msg(3, run))  # waited long enough: applied without frames 0-2
