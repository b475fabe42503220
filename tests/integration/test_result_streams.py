"""Sharded names and the results streams' readers, on a real Redis with several shards.

One Redis holds every shard here; the Redis Cluster tests (test_cluster_bus.py,
tests/e2e/test_redis_cluster.py) run the same names over three masters.
"""

from __future__ import annotations

import time

import httpx
import msgpack
import pytest

from tests.support.sse import SseClient
from workers import keys, result_streams
from workers.bus import FIELD

CAMERAS = ["door", "lobby", "gate", "yard", "dock", "roof"]


@pytest.fixture
def three_shards():
    keys.use_shards(3)
    try:
        yield
    finally:
        keys.use_shards(1)  # the layout is process-wide: every other test expects one shard


def test_one_shard_keeps_the_historical_names():
    assert keys.shard_count() == 1
    assert keys.frames("door") == "fs:frames:door"
    assert keys.progress("door", "r1") == "fs:progress:door:r1"
    assert keys.done_bits("door", "r1", 70_000) == ("fs:done:door:r1:1", 70_000 - keys.DONE_CHUNK)
    assert keys.in_shard_of(keys.RESULTS, "door") == "fs:results"
    assert keys.every_shard(keys.DETECTED) == ["fs:detected"]
    assert result_streams.Position.parse("5-1").ids == {"fs:results": "5-1"}


def test_a_cameras_keys_and_streams_share_its_shards_hash_tag(three_shards):
    from redis.crc import key_slot

    shards = {keys.shard_of(c) for c in CAMERAS}
    assert len(shards) > 1, "the test cameras should spread over the shards"
    for camera in CAMERAS:
        bits, _ = keys.done_bits(camera, "r1", 5)
        names = [
            keys.frames(camera),
            keys.camera_info(camera),
            keys.progress(camera, "r1"),
            bits,
            keys.match_state(camera),
            keys.track_state(camera),
            *(keys.in_shard_of(s, camera) for s in (keys.DETECTED, keys.TRACKED, keys.RESULTS)),
        ]
        # one slot: what a stage's Lua script touches for this camera may be on one master
        assert len({key_slot(n.encode()) for n in names}) == 1, names
        assert keys.camera_in(keys.track_state(camera)) == camera
    assert keys.every_shard(keys.RESULTS) == ["fs:results:{0}", "fs:results:{1}", "fs:results:{2}"]


def _write(client, camera: str, n: int) -> list[str]:
    stream = keys.in_shard_of(keys.RESULTS, camera)
    return [
        client.xadd(stream, {FIELD: msgpack.packb({"camera": camera, "n": i})}).decode()
        for i in range(n)
    ]


def test_readers_merge_every_shard_and_resume_from_a_position(redis_client, three_shards):
    start = result_streams.newest(redis_client)
    assert set(start.ids.values()) == {"0-0"}
    written = {c: _write(redis_client, c, 3) for c in CAMERAS}

    scanned = list(result_streams.scan(redis_client))
    assert len(scanned) == 3 * len(CAMERAS)
    ids = [result_streams.order(eid) for _, eid, _ in scanned]
    assert ids == sorted(ids), "scan hands records out in id order across shards"

    got = result_streams.read(redis_client, start, count=100)
    assert sorted(e[1] for e in got) == sorted(i for ids in written.values() for i in ids)
    for entry in got[:5]:
        start.passed(entry)
    token = str(start)
    assert token.count(",") == 2
    resumed = result_streams.Position.parse(token)
    rest = result_streams.read(redis_client, resumed, count=100)
    assert [e[1] for e in rest] == [e[1] for e in got[5:]], "nothing lost, nothing twice"

    # nothing new: a blocking read waits, then returns nothing
    after = result_streams.newest(redis_client)
    assert result_streams.read(redis_client, after, count=10, block_ms=100) == []


@pytest.mark.parametrize("token", ["yesterday", "1-0", "1-0,2-0", "1-0,2-0,x-1", ""])
def test_a_bad_position_says_what_was_expected(three_shards, token):
    with pytest.raises(ValueError, match=r"expected 3 stream id\(s\) like"):
        result_streams.Position.parse(token)


def test_sse_over_shards_resumes_with_last_event_id(admin_api, three_shards):
    url, headers, client = admin_api
    cameras = CAMERAS[:3]
    assert len({keys.shard_of(c) for c in cameras}) > 1
    events_url = f"{url}/v1/events"
    sub = SseClient(events_url, headers).start()
    for camera in cameras:
        _write(client, camera, 4)
    _wait(sub, 12)
    sub.stop()
    seen = [(data["camera"], data["n"]) for _, _, data in sub.events]
    for camera in cameras:  # written while nobody listens
        _write(client, camera, 6)
    again = SseClient(events_url, headers | {"Last-Event-ID": sub.events[-1][0]}).start()
    _wait(again, 3 * 10 - len(seen))
    again.stop()
    got = seen + [(data["camera"], data["n"]) for _, _, data in again.events]
    expected = [(c, i) for c in cameras for i in [*range(4), *range(6)]]
    assert sorted(got) == sorted(expected), "each record exactly once, from every shard"
    bad = httpx.get(events_url, headers=headers | {"Last-Event-ID": "1700000000000-0"})
    assert bad.status_code == 422 and "expected 3 stream id(s)" in bad.json()["detail"]


def _wait(client: SseClient, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(client.events) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(client.events) >= n, (len(client.events), n, client.error)
