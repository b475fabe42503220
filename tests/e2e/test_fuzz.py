"""Fuzzing every stream and the decoders, with the real handlers on a real Redis.

Random bytes, truncated and bit-flipped valid messages, valid messages with one
field replaced by garbage, and corrupt JPEGs (frames and face chips) go into
``fs:frames:*``, ``fs:detected``, ``fs:tracked`` and ``fs:embedded``; the four
workers (real MTCNN, dlib, tracker, Milvus matcher) are stepped until every
entry is settled. No step may raise; every undecodable entry ends in
``fs:dead``; nothing stays pending. Corrupt video files go into the source
decoder: opening and reading them never crashes.
"""

from __future__ import annotations

import dataclasses

import cv2
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from config.errors import SourceError
from config.settings import Settings
from facestream.services import Services
from facestream.stack import Endpoints
from ingest.sources import open_source
from workers import codec, keys
from workers.messages import FrameMeta, FrameMsg
from workers.runtime import Worker

pytestmark = pytest.mark.slow
CAMERA = "fuzzcam"
GARBAGE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=64),
    st.lists(st.integers(-5, 300), max_size=6),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


@pytest.fixture(scope="module")
def chain(stack: Endpoints, examples_dir, tmp_path_factory):
    """The four workers in this process, and one valid message per stream to mutate."""
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    client.flushall()
    s = Settings(
        data_dir=tmp_path_factory.mktemp("fuzz"),
        redis_url=stack.redis_url,
        milvus_uri=stack.milvus_uri,
        embedder="dlib",
        device="cpu",
        bus={"claim_idle_ms": 100, "max_deliveries": 2, "block_ms": 10},
        track={"reorder_wait_s": 0.1, "reorder_wait_file_s": 0.2},
    )
    services = Services(s, stack)
    client.sadd(keys.CAMERAS, CAMERA)
    workers = {
        kind: Worker(
            services.bus, services.handler(kind), s.bus, client=client, consumer=f"fuzz-{kind}"
        )
        for kind in ("detect", "track", "embed", "match")
    }
    cap = cv2.VideoCapture(str(examples_dir / "hamilton_360p.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, frame = cap.read()
    cap.release()
    assert ok
    jpeg = cv2.imencode(".jpg", frame)[1].tobytes()
    first = FrameMsg(
        FrameMeta(
            camera=CAMERA, run="seed", seq=0, ts=0.0, capture_time=0.0, width=640, height=360
        ),
        jpeg=jpeg,
    )
    seeds = {keys.frames(CAMERA): first}
    msg = first
    for kind, stream in (
        ("detect", keys.DETECTED),
        ("track", keys.TRACKED),
        ("embed", keys.EMBEDDED),
    ):
        outputs = workers[kind].handler.handle(msg)
        msg = outputs[0][1]
        seeds[stream] = msg
    assert len(seeds[keys.EMBEDDED].shots.rows) >= 1, "the seed frame should have a face"
    return client, workers, seeds, jpeg


def _settle(client, workers, rounds: int = 400) -> None:
    """Step every worker until no group has pending or unread entries; no step may raise."""
    for _ in range(rounds):
        for w in workers.values():
            w.step()
        busy = 0
        for stream in (keys.frames(CAMERA), keys.DETECTED, keys.TRACKED, keys.EMBEDDED):
            for g in client.xinfo_groups(stream) if client.exists(stream) else []:
                busy += int(g["pending"]) + int(g.get("lag") or 0)
        if not busy:
            return
    raise AssertionError("entries still pending after settling")


def _with_chips(msg: FrameMsg, chips: tuple[bytes, ...]) -> FrameMsg:
    return dataclasses.replace(msg, shots=dataclasses.replace(msg.shots, chips=chips))


def _mutations(seeds: dict, jpeg: bytes):
    streams = st.sampled_from(sorted(seeds))

    def flip(data: bytes, positions: list[int]) -> bytes:
        b = bytearray(data)
        for p in positions:
            b[p % len(b)] ^= 0xFF
        return bytes(b)

    def replace(stream: str, field: str, value) -> bytes:
        """``field`` is a top-level key or ``section.name``."""
        d = codec.decode(seeds[stream].to_bytes())
        *section, name = field.split(".")
        (d[section[0]] if section else d)[name] = value
        return codec.encode(d)

    wire = codec.decode(seeds[keys.EMBEDDED].to_bytes())
    fields = sorted(
        list(wire) + [f"{k}.{n}" for k, v in wire.items() if isinstance(v, dict) for n in v]
    )
    return st.one_of(
        st.tuples(streams, st.binary(max_size=300)),
        st.builds(lambda s, n: (s, seeds[s].to_bytes()[:n]), streams, st.integers(0, 400)),
        st.builds(
            lambda s, p: (s, flip(seeds[s].to_bytes(), p)),
            streams,
            st.lists(st.integers(0, 10**6), min_size=1, max_size=8),
        ),
        st.builds(lambda s, f, v: (s, replace(s, f, v)), streams, st.sampled_from(fields), GARBAGE),
        # corrupt JPEGs into the detector (frame) and into the embedder (chips)
        st.builds(
            lambda p, n: (
                keys.frames(CAMERA),
                dataclasses.replace(seeds[keys.frames(CAMERA)], jpeg=flip(jpeg, p)[:n]).to_bytes(),
            ),
            st.lists(st.integers(0, 10**6), max_size=20),
            st.integers(0, len(jpeg)),
        ),
        st.builds(
            lambda p: (
                keys.TRACKED,
                _with_chips(
                    seeds[keys.TRACKED], tuple(flip(c, p) for c in seeds[keys.TRACKED].shots.chips)
                ).to_bytes(),
            ),
            st.lists(st.integers(0, 10**4), min_size=1, max_size=20),
        ),
    )


def test_fuzzed_entries_never_crash_a_worker_and_bad_ones_are_dead_lettered(chain) -> None:
    client, workers, seeds, jpeg = chain
    undecodable: list[tuple[str, str]] = []
    seqs = iter(range(1, 10**6))

    @hsettings(
        max_examples=120, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(_mutations(seeds, jpeg))
    def one(case) -> None:
        stream, payload = case
        try:
            msg = FrameMsg.from_bytes(payload)
        except ValueError:
            msg = None
        if (
            msg is not None and msg.run == "seed"
        ):  # a fresh seq per example, so valid ones are not deduplicated
            payload = dataclasses.replace(
                msg, meta=dataclasses.replace(msg.meta, seq=next(seqs))
            ).to_bytes()
        eid = client.xadd(stream, {"m": payload}).decode()
        if msg is None:
            undecodable.append((stream, eid))
        _settle(client, workers)

    one()
    dead = {
        (r["stream"], r["id"]) for r in (codec.decode(f[b"m"]) for _, f in client.xrange(keys.DEAD))
    }
    assert set(undecodable) <= dead, set(undecodable) - dead
    counters = {k: w.counters for k, w in workers.items()}
    print(
        f"\n{len(undecodable)} undecodable entries, {len(dead)} dead letters; counters {counters}"
    )
    assert len(undecodable) > 10


@hsettings(max_examples=12, deadline=None, database=None)
@given(
    cut=st.one_of(st.just(1.0), st.floats(0.05, 1.0)),
    flips=st.lists(st.integers(0, 10**7), max_size=200),
)
def test_corrupt_video_files_never_crash_the_decoder(
    hamilton_path, tmp_path_factory, cut, flips
) -> None:
    data = bytearray(hamilton_path.read_bytes())
    data = data[: max(16, int(len(data) * cut))]
    for p in flips:
        data[p % len(data)] ^= 0x5A
    path = tmp_path_factory.mktemp("video") / "corrupt.mp4"
    path.write_bytes(bytes(data))
    try:
        source = open_source(str(path), open_timeout_s=5, read_timeout_s=5)
    except SourceError:
        return
    try:
        for _ in range(300):
            if source.read() is None:
                break
    finally:
        source.close()


@pytest.fixture(scope="module")
def hamilton_path(examples_dir):
    return examples_dir / "hamilton_360p.mp4"
