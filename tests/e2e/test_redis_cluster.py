"""`facestream run` of two cameras on a real three-master Valkey Cluster with six shards: real
worker processes, milvus-lite, MTCNN and dlib on the demo clip; every frame of each camera
accounted for in its progress ledger on the cluster, the cameras' streams on different masters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgpack
import pytest

from facestream.services import connect_redis
from workers import keys
from workers.bus import FIELD
from workers.progress import Counts

pytestmark = pytest.mark.slow

SHARDS = 6
LIN = "lin_manuel_miranda"
FRAMES = 275  # hamilton_360p.mp4
CANDIDATES = ("door", "stage", "lobby", "gate", "yard", "hall")


@dataclass(frozen=True)
class ClusterRun:
    done: subprocess.CompletedProcess
    cameras: tuple[str, str]
    ledgers: dict[str, Counts]
    streamed: dict[str, list[dict]]  # camera -> its records in its shard's results stream
    out: list[dict]  # the `--out` file's records


def _facestream(
    data_dir: Path, seed_url: str, *args: str, milvus_uri: str | None = None
) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess, configured for the cluster through the environment (Milvus:
    embedded in ``data_dir`` unless ``milvus_uri``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env.update(
        FACESTREAM_REDIS_URL=seed_url,
        FACESTREAM_REDIS_CLUSTER="true",
        FACESTREAM_BUS_SHARDS=str(SHARDS),
    )
    if milvus_uri is not None:
        env["FACESTREAM_MILVUS_URI"] = milvus_uri
    cmd = [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)


def _cameras_on_two_masters(valkey_cluster) -> tuple[str, str]:
    """Two camera names whose shards live on different masters of this cluster."""
    from redis.crc import key_slot

    def master(camera: str) -> int:
        return valkey_cluster.master_of_slot(key_slot(keys.frames(camera).encode()))

    for first in CANDIDATES:
        for second in CANDIDATES:
            if master(first) != master(second):
                return first, second
    raise AssertionError(f"no two of {CANDIDATES} on different masters with {SHARDS} shards")


@pytest.fixture(scope="module")
def sharded() -> Iterator[None]:
    """Six shards in this process too, to name the keys the run wrote (workers/keys.py)."""
    keys.use_shards(SHARDS)
    try:
        yield
    finally:
        keys.use_shards(1)


@pytest.fixture(scope="module")
def client(valkey_cluster, sharded):
    client = connect_redis(valkey_cluster.seed_url, cluster=True)
    yield client
    client.close()


@pytest.fixture(scope="module")
def cluster_run(valkey_cluster, client, examples_dir: Path, tmp_path_factory) -> ClusterRun:
    client.flushall()  # every master
    data_dir = tmp_path_factory.mktemp("cluster-run")
    enrolled = _facestream(
        data_dir, valkey_cluster.seed_url, "enroll", "--dir", str(examples_dir / "gallery")
    )
    assert enrolled.returncode == 0, enrolled.stderr[-3000:]
    cameras = _cameras_on_two_masters(valkey_cluster)
    clip = str(examples_dir / "hamilton_360p.mp4")
    out = data_dir / "results.jsonl"
    done = _facestream(
        data_dir,
        valkey_cluster.seed_url,
        "run", clip, clip,
        "--camera", cameras[0], "--camera", cameras[1],
        "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    ledgers, streamed = {}, {}
    for camera in cameras:
        run = client.hget(keys.camera_info(camera), "run")
        assert run, f"{keys.camera_info(camera)}: no run id"
        ledgers[camera] = Counts.parse(client.hgetall(keys.progress(camera, run.decode())))
        stream = keys.in_shard_of(keys.RESULTS, camera)
        streamed[camera] = [
            msgpack.unpackb(fields[FIELD], raw=False) for _, fields in client.xrange(stream)
        ]
    rows = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return ClusterRun(done, cameras, ledgers, streamed, rows)


def test_the_two_cameras_live_on_different_masters(cluster_run, client) -> None:
    masters = {
        camera: {
            client.get_node_from_key(key).port
            for key in (
                keys.frames(camera),
                keys.camera_info(camera),
                keys.in_shard_of(keys.DETECTED, camera),
                keys.in_shard_of(keys.RESULTS, camera),
            )
        }
        for camera in cluster_run.cameras
    }
    first, second = (masters[c] for c in cluster_run.cameras)
    assert len(first) == 1 and len(second) == 1, masters  # one camera's keys: one master
    assert first != second, masters


def test_every_frame_of_each_camera_is_accounted_for(cluster_run) -> None:
    for camera in cluster_run.cameras:
        counts = cluster_run.ledgers[camera]
        assert counts.complete, (camera, counts)
        assert counts.total == FRAMES and counts.done == FRAMES, (camera, counts)
        assert counts.dropped == {}, (camera, counts)
        assert f"{camera}: {FRAMES}/{FRAMES} frames accounted for" in cluster_run.done.stderr


def test_both_cameras_name_the_enrolled_person(cluster_run) -> None:
    for camera in cluster_run.cameras:
        records = cluster_run.streamed[camera]
        assert records, f"{camera}: nothing in {keys.in_shard_of(keys.RESULTS, camera)}"
        assert {r["camera"] for r in records} == {camera}
        assert LIN in {r.get("name") for r in records}, camera


def test_the_out_file_has_the_records_of_both_cameras(cluster_run) -> None:
    # every record of both shards' results streams reached the file, once
    assert len(cluster_run.out) == sum(len(r) for r in cluster_run.streamed.values())
    rows = [r for r in cluster_run.out if "event" not in r]
    assert {r["camera"] for r in rows} == set(cluster_run.cameras)
    for camera in cluster_run.cameras:
        assert LIN in {r["name"] for r in rows if r["camera"] == camera}, camera
    assert LIN in cluster_run.done.stdout


def test_status_and_reports_read_every_shard(cluster_run, valkey_cluster, stack) -> None:
    data_dir = Path(cluster_run.done.args[cluster_run.done.args.index("--data-dir") + 1])
    # status starts no server: the run's embedded Milvus is gone, the session's stands in
    status = _facestream(
        data_dir, valkey_cluster.seed_url, "status", "--json", milvus_uri=stack.milvus_uri
    )
    assert status.returncode == 0, status.stderr[-3000:]
    listed = {s["stream"] for s in json.loads(status.stdout)["streams"]}
    for camera in cluster_run.cameras:  # streams on every master are listed
        assert keys.in_shard_of(keys.RESULTS, camera) in listed, listed
    report = _facestream(data_dir, valkey_cluster.seed_url, "report", "screen-time", "--json")
    assert report.returncode == 0, report.stderr[-3000:]
    seen = {(row["camera"], row["name"]) for row in json.loads(report.stdout)}
    assert {(camera, LIN) for camera in cluster_run.cameras} <= seen, seen


def test_the_api_streams_and_lists_the_records_of_every_shard(
    cluster_run, valkey_cluster, client, stack, tmp_path
) -> None:
    import httpx

    from config.settings import Settings
    from facestream.apikeys import ApiKeys
    from facestream.stack import Endpoints
    from tests.support.api_server import api_server
    from tests.support.sse import SseClient

    settings = Settings(
        data_dir=tmp_path,
        redis_url=valkey_cluster.seed_url,
        redis_cluster=True,
        milvus_uri=stack.milvus_uri,
        bus={"shards": SHARDS},
    )
    _, admin = ApiKeys(client).create("admin")
    headers = {"Authorization": f"Bearer {admin}"}
    total = sum(len(r) for r in cluster_run.streamed.values())
    with api_server(settings, Endpoints(valkey_cluster.seed_url, stack.milvus_uri)) as url:
        sse = SseClient(f"{url}/v1/events?from_start=true", headers, max_events=total).start()
        sse._thread.join(60)
        assert len(sse.events) == total, (len(sse.events), total, sse.error)
        assert {data["camera"] for _, _, data in sse.events} == set(cluster_run.cameras)
        assert sse.events[-1][0].count(",") == SHARDS - 1  # a position in every shard
        tracks = httpx.get(f"{url}/v1/tracks", headers=headers, timeout=30)
        assert tracks.status_code == 200, tracks.text
        named = {(t["camera"], t["name"]) for t in tracks.json()}
        assert {(camera, LIN) for camera in cluster_run.cameras} <= named, named


def test_erasing_the_person_deletes_the_records_on_every_shard(cluster_run, valkey_cluster, client):
    data_dir = Path(cluster_run.done.args[cluster_run.done.args.index("--data-dir") + 1])
    erased = _facestream(data_dir, valkey_cluster.seed_url, "people", "rm", LIN)
    assert erased.returncode == 0, erased.stderr[-3000:]
    for camera in cluster_run.cameras:
        stream = keys.in_shard_of(keys.RESULTS, camera)
        left = [msgpack.unpackb(f[FIELD], raw=False) for _, f in client.xrange(stream)]
        assert left, f"{stream}: the other records stay"
        assert LIN not in {r.get("name") for r in left}, stream
