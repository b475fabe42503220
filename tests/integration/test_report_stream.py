"""Reports read the results stream of a real Redis, page by page, past unreadable entries."""

from __future__ import annotations

import msgpack

from facestream.reports import records
from workers import keys, result_streams
from workers.bus import FIELD


def test_every_record_of_the_stream_is_read_in_pages(redis_client, monkeypatch) -> None:
    monkeypatch.setattr(result_streams, "PAGE", 3)  # 7 entries: pages of 3, 3 and 1
    for frame in range(6):
        record = {"camera": "door", "frame": frame, "ts": frame / 25, "track_id": "t", "run": "r"}
        redis_client.xadd(keys.RESULTS, {FIELD: msgpack.packb(record)})
        if frame == 2:
            redis_client.xadd(keys.RESULTS, {FIELD: b"\xc1 not msgpack"})
    got = list(records.read_stream(redis_client))
    assert [r["frame"] for r in got] == list(range(6))
