"""Erasure leaves nothing: after DELETE of a person (or of their collection) a search of the
data directory, and of Redis, for the person's name and id finds nothing. Own stack (its data
directory is searched), real uvicorn, the dlib models."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import msgpack
import pytest
import redis

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.server_probes import open_milvus_client
from facestream.stack import EmbeddedStack
from tests.support.api_server import api_server
from workers import keys
from workers.bus import FIELD
from workers.gallery.collections import Collections

pytestmark = pytest.mark.timeout(600)
NAME = "Zelda Quintrell-Oyelaran"  # unlikely anywhere else


def grep(directory: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for path in directory.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            hits += [f"{path}: {n!r}" for n in needles if n in data]
    return hits


def in_redis(client: redis.Redis, needles: list[bytes]) -> list[str]:
    """Every key and every value, by type."""
    hits = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key) or b""]
        elif kind == "hash":
            values = [b for kv in client.hgetall(key).items() for b in kv]
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "zset":
            values = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            values = [v for _, f in client.xrange(key) for kv in f.items() for v in kv]
        else:
            values = []
        hits += [f"{key!r}: {n!r}" for n in needles for v in [key, *values] if n in v]
    return hits


def record(camera: str, name: str | None, pid: str | None, event: str | None = None) -> bytes:
    if event:
        rec = {
            "event": event,
            "camera": camera,
            "frame": 1,
            "ts": 0.1,
            "track_id": "t1",
            "name": name,
            "score": 0.97,
        }
    else:
        rec = {
            "camera": camera,
            "frame": 1,
            "ts": 0.1,
            "track_id": "t1",
            "name": name,
            "person_id": pid,
            "score": 0.97,
            "bbox": [1, 2, 3, 4],
            "capture_time": time.time(),
            "label": name,
        }
    return msgpack.packb(rec)


@pytest.fixture
def erasable(tmp_path: Path, shared_dir: Path):
    data_dir = tmp_path / "data"
    base = Settings(data_dir=data_dir, redis_url=None, milvus_uri=None, embedder="dlib")
    with EmbeddedStack(base) as endpoints:
        settings = Settings(
            data_dir=data_dir,
            redis_url=endpoints.redis_url,
            milvus_uri=endpoints.milvus_uri,
            embedder="dlib",
        )
        client = redis.Redis.from_url(endpoints.redis_url)
        _, admin = ApiKeys(client).create("admin")
        with api_server(settings, endpoints) as url:
            yield url, {"Authorization": f"Bearer {admin}"}, client, endpoints, data_dir


def enroll(url, headers, collection: str, photos: list[Path]) -> str:
    pid = httpx.post(
        f"{url}/v1/collections/{collection}/people", json={"name": NAME}, headers=headers
    ).json()["id"]
    got = httpx.post(
        f"{url}/v1/collections/{collection}/people/{pid}/faces",
        files=[("image", (p.name, p.read_bytes(), "image/jpeg")) for p in photos],
        headers=headers,
        timeout=300,
    )
    assert got.status_code == 200 and got.json()["images"][0]["enrolled"], got.text
    return pid


def test_erasing_a_person_leaves_nothing(erasable, shared_dir):
    url, headers, client, endpoints, data_dir = erasable
    assert (
        httpx.post(f"{url}/v1/collections", json={"name": "club"}, headers=headers).status_code
        == 201
    )
    photos = sorted((shared_dir / "faces" / "gallery" / "obama").iterdir())
    pid = enroll(url, headers, "club", photos)
    other = httpx.post(
        f"{url}/v1/collections/club/people", json={"name": "keeper"}, headers=headers
    ).json()["id"]
    Collections(client).bind_camera("door", "club")
    client.xadd(keys.RESULTS, {FIELD: record("door", NAME, pid)})
    client.xadd(keys.RESULTS, {FIELD: record("door", NAME, None, "end")})
    kept = client.xadd(keys.RESULTS, {FIELD: record("door", "keeper", other)})
    identified = httpx.post(
        f"{url}/v1/collections/club/identify",
        files={
            "image": (
                "probe.jpg",
                (shared_dir / "faces/probes/obama1.jpg").read_bytes(),
                "image/jpeg",
            )
        },
        headers=headers,
        timeout=120,
    ).json()
    assert identified["faces"][0]["person_id"] == pid  # enrolled for real before it is erased
    needles = [NAME.encode(), pid.encode()]
    client.bgrewriteaof()  # the name is in the files before: the search below can find it
    time.sleep(1)
    assert grep(data_dir, needles), "the search must be able to find the name before erasure"

    gone = httpx.delete(f"{url}/v1/collections/club/people/{pid}", headers=headers)
    assert gone.status_code == 204, gone.text
    milvus = open_milvus_client(endpoints.milvus_uri)
    rows = milvus.query(
        "c_club_faces_dlib_128",
        filter=f'person_id == "{pid}"',
        output_fields=["id"],
        consistency_level="Strong",
    )
    assert rows == []
    assert [e for e, _ in client.xrange(keys.RESULTS)] == [kept]  # the others' records stay
    assert in_redis(client, needles) == []
    assert grep(data_dir, needles) == []
    again = httpx.get(f"{url}/v1/collections/club/people/{pid}", headers=headers)
    assert again.status_code == 404
    assert (
        httpx.delete(f"{url}/v1/collections/club/people/{pid}", headers=headers).status_code == 404
    )


def test_erasing_a_collection_leaves_nothing(erasable, shared_dir):
    url, headers, client, endpoints, data_dir = erasable
    assert (
        httpx.post(f"{url}/v1/collections", json={"name": "gone"}, headers=headers).status_code
        == 201
    )
    pid = enroll(
        url, headers, "gone", sorted((shared_dir / "faces" / "gallery" / "biden").iterdir())
    )
    Collections(client).bind_camera("cam", "gone")
    client.xadd(keys.RESULTS, {FIELD: record("cam", NAME, pid)})
    _, reader = ApiKeys(client).create("read", "gone")
    got = httpx.delete(f"{url}/v1/collections/gone", headers=headers)
    assert got.status_code == 204, got.text
    assert Collections(client).names() == ["default"]
    assert not [
        n for n in open_milvus_client(endpoints.milvus_uri).list_collections() if "gone" in n
    ]
    assert client.hlen(keys.CAMERA_COLLECTIONS) == 0
    assert (
        httpx.get(
            f"{url}/v1/collections/gone/people", headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 401
    )
    needles = [NAME.encode(), pid.encode()]
    assert in_redis(client, needles) == []
    assert grep(data_dir, needles) == []
