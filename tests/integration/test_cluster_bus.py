"""The bus and the per-camera Lua commit on a real three-master Valkey Cluster, with six shards:
what workers do with streams that live on different masters, through the product's own client."""

from __future__ import annotations

import threading
import time

import pytest

from facestream.services import connect_redis
from workers import keys
from workers.bus import RedisStreamBus
from workers.progress import Counts
from workers.state_commit import DONE_ALREADY, DoneBit, StateCommit

SHARDS = 6
CAMERAS = [f"cam{i}" for i in range(12)]


@pytest.fixture
def sharded():
    """Six shards for this test only: the layout is process-wide (workers/keys.py)."""
    keys.use_shards(SHARDS)
    try:
        yield
    finally:
        keys.use_shards(1)


@pytest.fixture
def client(valkey_cluster, sharded):
    client = connect_redis(valkey_cluster.seed_url, cluster=True)
    client.flushall()  # a cluster client sends it to every master
    yield client
    client.close()


def _master(client, key: str) -> int:
    return client.get_node_from_key(key).port


def test_one_group_reads_and_acks_the_streams_of_cameras_on_different_masters(
    client, valkey_cluster
) -> None:
    streams = keys.every_shard(keys.DETECTED)
    masters = {_master(client, s) for s in streams}
    # the slot map the client learnt is the one the fixture assigned
    for s in streams:
        assert _master(client, s) == valkey_cluster.master_of_slot(client.keyslot(s))
    assert len(masters) >= 2, f"six shards on one master: {masters}"
    bus = RedisStreamBus(client)
    for s in streams:
        bus.ensure_group(s, keys.GROUP_TRACK)
    sent: dict[str, set[bytes]] = {}
    for camera in CAMERAS:
        payloads = {f"{camera}:{n}".encode() for n in range(5)}
        for p in sorted(payloads):
            bus.publish(keys.in_shard_of(keys.DETECTED, camera), p, maxlen=1000)
        sent[camera] = payloads
    used = {_master(client, keys.in_shard_of(keys.DETECTED, c)) for c in CAMERAS}
    assert len(used) >= 2, f"the cameras' streams are all on one master: {used}"

    got: list = []
    deadline = time.monotonic() + 10
    while len(got) < 60 and time.monotonic() < deadline:
        got += bus.read(streams, keys.GROUP_TRACK, "c1", count=7, block_ms=100)
    by_camera: dict[str, set[bytes]] = {c: set() for c in CAMERAS}
    for e in got:
        assert e.payload is not None
        camera = e.payload.decode().split(":")[0]
        assert e.stream == keys.in_shard_of(keys.DETECTED, camera), (e.stream, camera)
        by_camera[camera].add(e.payload)
    assert by_camera == sent
    assert len(got) == 60, f"expected 60 entries, read {len(got)} (some twice)"

    # delivered and not acked: a restarted consumer gets its own pending entries back
    pending = bus.read(streams, keys.GROUP_TRACK, "c1", count=100, block_ms=0, own_pending=True)
    assert sorted(e.id for e in pending) == sorted(e.id for e in got)
    for e in got:
        bus.ack(e.stream, keys.GROUP_TRACK, [e.id])
    for s in streams:
        assert client.xpending(s, keys.GROUP_TRACK)["pending"] == 0, s
    assert bus.read(streams, keys.GROUP_TRACK, "c1", count=10, block_ms=50) == []


def test_a_blocking_read_with_nothing_there_returns_and_a_later_entry_is_found(client) -> None:
    streams = keys.every_shard(keys.EMBEDDED)
    bus = RedisStreamBus(client)
    for s in streams:
        bus.ensure_group(s, keys.GROUP_MATCH)
    started = time.monotonic()
    assert bus.read(streams, keys.GROUP_MATCH, "m1", count=10, block_ms=300) == []
    # a bound against hanging, not a timing measurement: one block plus a sweep of six slots
    assert time.monotonic() - started < 0.3 + 2.0

    # an entry published on another master while a worker waits is read within a few reads
    last = keys.in_shard_of(keys.EMBEDDED, CAMERAS[-1])
    later = threading.Timer(0.2, bus.publish, args=(last, b"late"))
    later.start()
    got: list = []
    deadline = time.monotonic() + 10
    while not got and time.monotonic() < deadline:
        got = bus.read(streams, keys.GROUP_MATCH, "m1", count=10, block_ms=100)
    later.join()
    assert [(e.stream, e.payload) for e in got] == [(last, b"late")]


def test_the_state_commit_script_runs_in_the_slot_of_its_camera(client) -> None:
    camera = CAMERAS[3]
    run = "r1"
    progress = keys.progress(camera, run)
    bitmap, bit = keys.done_bits(camera, run, 41)
    state = keys.match_state(camera)
    out = keys.in_shard_of(keys.RESULTS, camera)
    slots = {client.keyslot(k) for k in (progress, bitmap, state, out)}
    assert len(slots) == 1, f"a camera's keys span slots {slots}"

    commit = StateCommit(client)
    done = DoneBit(bitmap, progress, bit)
    assert commit.commit(state, 0, b"s1", [(out, b"rec", 1000)], done) == 1
    # redelivered: nothing published twice, the state stays, the frame counted once
    assert commit.commit(state, 1, b"s2", [(out, b"rec", 1000)], done) == DONE_ALREADY
    assert commit.load(state) == (1, b"s1")
    assert client.xlen(out) == 1
    counts = Counts.parse(client.hgetall(progress))
    assert counts.done == 1 and counts.dropped == {}
