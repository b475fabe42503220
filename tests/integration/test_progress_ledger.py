"""The progress ledger on a real Redis: what the grabber and the matcher write, what `run` and
`status` read, and the matcher's commit counting a redelivered frame once."""

from __future__ import annotations

from workers import keys
from workers.progress import TTL_S, Counts, RunProgress


def test_a_file_run_from_first_frame_to_finished(redis_client) -> None:
    ledger = RunProgress(redis_client, "door", "r1")
    assert ledger.read() == Counts() and not ledger.read().complete
    ledger.count_published()
    ledger.count_published(2)
    ledger.count_skipped({"backlog": 4, "overwritten": 0})
    assert ledger.commit(0) and ledger.commit(1, "stale") and ledger.commit(2)
    assert not ledger.commit(1, "stale")  # redelivered: already counted
    assert ledger.is_done(1) and not ledger.is_done(3)
    ledger.set_total(3)
    assert not ledger.read().complete  # the end of stream has not gone through yet
    ledger.finish(3)
    counts = ledger.read()
    assert counts == Counts(
        published=3,
        done=3,
        total=3,
        finished=True,
        dropped={"stale": 1},
        skipped={"backlog": 4, "overwritten": 0},
    )
    assert counts.complete and ledger.done() == 3 and ledger.finished()
    assert 0 < redis_client.ttl(keys.progress("door", "r1")) <= TTL_S
    assert 0 < redis_client.ttl(keys.done_bits("door", "r1", 0)[0]) <= TTL_S


def test_runs_and_cameras_keep_separate_ledgers(redis_client) -> None:
    first, second, other = (
        RunProgress(redis_client, c, r) for c, r in (("door", "r1"), ("door", "r2"), ("hall", "r1"))
    )
    assert first.commit(0, "corrupt_frame")
    assert second.commit(0) and other.commit(0)
    assert first.read().dropped == {"corrupt_frame": 1} and second.read().dropped == {}
    assert [first.done(), second.done(), other.done()] == [1, 1, 1]
