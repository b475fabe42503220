import pytest

from config.errors import ConfigError
from tracker import ReorderBuffer


def seqs(released):
    return [seq for seq, _ in released]


def test_in_order_passes_straight_through():
    buf = ReorderBuffer(wait_s=2.0)
    assert buf.push(0, "a", 0.0) == [(0, "a")]
    assert buf.push(1, "b", 0.1) == [(1, "b")]
    assert len(buf) == 0 and buf.next_seq == 2


def test_out_of_order_is_released_in_order():
    buf = ReorderBuffer(wait_s=2.0)
    assert buf.push(2, "c", 0.0) == []
    assert buf.push(1, "b", 0.1) == []
    assert buf.push(0, "a", 0.2) == [(0, "a"), (1, "b"), (2, "c")]
    assert buf.push(4, "e", 0.3) == []
    assert buf.push(3, "d", 0.4) == [(3, "d"), (4, "e")]
    assert buf.skipped == 0 and buf.late == 0


def test_custom_start():
    buf = ReorderBuffer(wait_s=2.0, start=10)
    assert buf.push(11, "b", 0.0) == []
    assert seqs(buf.push(10, "a", 0.0)) == [10, 11]


def test_late_frame_is_dropped_and_counted():
    buf = ReorderBuffer(wait_s=1.0)
    buf.push(1, "b", 0.0)
    assert seqs(buf.poll(1.5)) == [1]  # seq 0 given up on
    assert buf.skipped == 1
    assert buf.push(0, "a", 1.6) == []
    assert buf.late == 1 and buf.next_seq == 2


def test_duplicates_are_dropped_and_counted():
    buf = ReorderBuffer(wait_s=2.0)
    buf.push(0, "a", 0.0)
    assert buf.push(0, "a again", 0.1) == []  # already released
    buf.push(2, "c", 0.2)
    assert buf.push(2, "c again", 0.3) == []  # still buffered: first copy wins
    assert buf.late == 2
    assert buf.push(1, "b", 0.4) == [(1, "b"), (2, "c")]


def test_gap_is_waited_for_then_skipped():
    buf = ReorderBuffer(wait_s=2.0)
    buf.push(0, "a", 0.0)
    assert buf.push(2, "c", 1.0) == []
    assert buf.push(3, "d", 1.5) == []
    assert buf.poll(2.9) == []  # 1.9 s: still waiting for seq 1
    assert buf.poll(3.1) == [(2, "c"), (3, "d")]
    assert buf.skipped == 1 and buf.next_seq == 4


def test_several_gaps_skip_only_what_waited_too_long():
    buf = ReorderBuffer(wait_s=1.0)
    buf.push(1, "b", 0.0)
    buf.push(3, "d", 0.0)
    buf.push(6, "g", 0.8)
    # seqs 1 and 3 waited > 1 s, 6 has not: skip 0 and 2, keep waiting for 4, 5
    assert seqs(buf.poll(1.2)) == [1, 3]
    assert buf.skipped == 2 and buf.next_seq == 4 and len(buf) == 1
    assert seqs(buf.poll(1.9)) == [6]
    assert buf.skipped == 4


def test_push_applies_the_timeout_too():
    buf = ReorderBuffer(wait_s=1.0)
    buf.push(1, "b", 0.0)
    assert seqs(buf.push(2, "c", 1.5)) == [1, 2]


def test_zero_wait_never_holds_back():
    buf = ReorderBuffer(wait_s=0.0)
    assert seqs(buf.push(3, "d", 0.0)) == [3]
    assert buf.skipped == 3


def test_too_many_buffered_forces_a_skip():
    buf = ReorderBuffer(wait_s=100.0, max_items=3)
    for seq in (1, 2, 3):
        assert buf.push(seq, seq, 0.0) == []
    assert seqs(buf.push(4, 4, 0.0)) == [1, 2, 3, 4]
    assert buf.skipped == 1


def test_flush_releases_everything_in_order():
    buf = ReorderBuffer(wait_s=100.0)
    for seq in (5, 2, 3):
        buf.push(seq, str(seq), 0.0)
    assert buf.flush() == [(2, "2"), (3, "3"), (5, "5")]
    assert buf.skipped == 3 and len(buf) == 0 and buf.next_seq == 6
    assert buf.flush() == []


def test_reset_starts_a_new_run():
    buf = ReorderBuffer(wait_s=1.0)
    buf.push(3, "x", 0.0)
    buf.push(0, "a", 0.0)
    buf.push(0, "a", 0.0)
    buf.reset(start=100)
    assert len(buf) == 0 and buf.late == 0 and buf.skipped == 0
    assert buf.push(100, "n", 5.0) == [(100, "n")]


@pytest.mark.parametrize("kwargs", [{"wait_s": -1.0}, {"wait_s": 1.0, "max_items": 0}])
def test_bad_settings_are_rejected(kwargs):
    with pytest.raises(ConfigError):
        ReorderBuffer(**kwargs)
