"""Milvus unavailable: the matcher keeps a live camera going (tracks unnamed) and holds a file's
frames, retries with backoff, names once it is back; on milvus-lite and on a real Milvus server."""

from __future__ import annotations

import importlib.util
import shutil
import time

import numpy as np
import pytest

from facestream import milvus_standalone, server_probes, servers
from tracker.faces import Faces
from workers.gallery import People, VectorIndex
from workers.handler import NotYet
from workers.match import MatchHandler
from workers.messages import FrameMeta, FrameMsg, Shots
from workers.models.registry import spec


def _msg(seq: int, track: str, vector: np.ndarray, live: bool = True) -> FrameMsg:
    return FrameMsg(
        FrameMeta(
            camera="door" if live else "file",
            run="r1",
            seq=seq,
            ts=seq / 25,
            capture_time=time.time(),
            width=640,
            height=360,
            max_age_s=60.0 if live else None,  # a live frame carries its max age, a file's none
        ),
        faces=Faces(
            np.array([[10, 10, 60, 60]], np.float32),
            np.array([0.99], np.float32),
            track_ids=(track,),
        ),
        shots=Shots((0,), embeddings=vector[None, :], model="dlib"),
    )


class _Lite:
    """milvus-lite as the stack starts it."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

    def start(self, port=None):
        self.server = servers.start_milvus(self.data_dir, port=port)
        return self.server.port, self.server.url, {}

    def stop(self):
        servers.stop(self.server)


class _Standalone:
    """A real Milvus server (auth on), killed and started again on the same data and port."""

    def __init__(self, data_dir):
        self.data_dir = data_dir

    def start(self, port=None):
        self.server = milvus_standalone.start(self.data_dir, port=port)
        return self.server.port, self.server.uri, {"token": self.server.token}

    def stop(self):
        milvus_standalone.stop(self.server)

    def remove(self):
        shutil.rmtree(self.data_dir, ignore_errors=True)  # ~270 MB of etcd and rocksmq files


def _ada_enrolled(settings, redis_client, url: str, options: dict, seed: int):
    """A random unit vector enrolled as "ada" on the Milvus at ``url``, and a matcher on it."""
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    vector /= np.linalg.norm(vector)
    people = People(redis_client)
    client = server_probes.open_milvus_client(url, **options)
    VectorIndex(client, "faces_dlib_128", 128).add(people.get_or_create("ada"), vector[None, :])
    index = VectorIndex(client, "faces_dlib_128", 128)
    handler = MatchHandler(
        redis_client, people, lambda _m: index, settings, lambda m: spec(m).threshold
    )
    return vector, handler


HAS_SERVER = importlib.util.find_spec("milvus") is not None
SERVER = pytest.param(
    "milvus-server", marks=pytest.mark.needs(HAS_SERVER, reason="pip install milvus==2.3.5")
)


@pytest.mark.parametrize("kind", ["milvus-lite", SERVER])
def test_matcher_survives_milvus_going_away_and_names_when_it_is_back(
    settings, redis_client, tmp_path, kind
) -> None:
    milvus = (_Lite if kind == "milvus-lite" else _Standalone)(tmp_path / "milvus")
    port, url, options = milvus.start()
    try:
        vector, handler = _ada_enrolled(settings, redis_client, url, options, seed=0)

        def names(seq: int, track: str) -> list:
            out = handler.handle(_msg(seq, track, vector))
            handler.committed(_msg(seq, track, vector))
            return [r["name"] for _, r in out if "event" not in r]

        assert names(0, "t1") == ["ada"]
        milvus.stop()  # Milvus goes away
        started = time.monotonic()
        unnamed = [names(seq, "t2") for seq in range(1, 6)]
        print(f"\n5 frames handled without Milvus in {time.monotonic() - started:.1f} s")
        assert unnamed == [[None]] * 5 and handler.unsearched >= 5
        milvus.start(port=port)  # back, same data
        deadline, seq, named = time.monotonic() + 120, 6, []
        while time.monotonic() < deadline and named != ["ada"]:
            named = names(seq, "t2")
            seq += 1
            time.sleep(0.2)
        assert named == ["ada"], "never named after Milvus came back"
        print(f"named again after {seq - 6} frame(s)")
    finally:
        milvus.stop()
        if isinstance(milvus, _Standalone):
            milvus.remove()


def test_a_file_s_frames_wait_for_milvus_and_are_named_when_it_is_back(
    settings, redis_client, tmp_path
) -> None:
    """For a file there is no real-time need: a frame waits (``NotYet``, held by the runtime
    without spending deliveries) rather than going on unnamed, so the records are the same as
    without the outage."""
    milvus = _Lite(tmp_path / "milvus")
    port, url, options = milvus.start()
    try:
        vector, handler = _ada_enrolled(settings, redis_client, url, options, seed=1)

        def names(seq: int) -> list:
            msg = _msg(seq, "t1", vector, live=False)
            out = handler.handle(msg)
            handler.committed(msg)
            return [r["name"] for _, r in out if "event" not in r]

        assert names(0) == ["ada"]
        milvus.stop()
        for _ in range(3):  # tried again and again: it waits, it is never handled unnamed
            with pytest.raises(NotYet, match="waits for Milvus"):
                names(1)
        assert handler.health()["problem"].startswith("Milvus unreachable")
        milvus.start(port=port)
        deadline, named = time.monotonic() + 120, None
        while time.monotonic() < deadline and named is None:
            try:
                named = names(1)
            except NotYet:
                time.sleep(0.2)
        assert named == ["ada"], "frame 1 never handled after Milvus came back"
        assert handler.health() == {}
    finally:
        milvus.stop()
