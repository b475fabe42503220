"""Collections against the real servers: isolation of people, vectors and unknown labels; the
`default` collection keeps the names of a gallery enrolled before collections existed."""

from __future__ import annotations

import numpy as np
import pytest
import redis
from pymilvus import MilvusClient

from config.errors import ConfigError
from workers import keys
from workers.gallery.collections import Collections, Gallery, check_collection
from workers.models.registry import spec


def unit(rng: np.random.Generator, n: int, dim: int = 128) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def gallery(client: redis.Redis, milvus: MilvusClient, name: str) -> Gallery:
    return Gallery(client, lambda: milvus, name, lambda m: spec(m).threshold)


@pytest.mark.parametrize("bad", ["", "A", "1abc", "a-b", "a b", "a" * 33, "é", "a\n", None, 3])
def test_collection_names_follow_the_milvus_rule(bad) -> None:
    with pytest.raises(ConfigError, match="collection name: expected"):
        check_collection(bad)


def test_default_keeps_the_names_of_before(redis_client, milvus_client) -> None:
    default = gallery(redis_client, milvus_client, "default")
    pid = default.people.get_or_create("obama")
    assert redis_client.hget(keys.PEOPLE, pid) == b"obama"
    assert default.index("dlib").collection == "faces_dlib_128"
    assert default.unknowns("dlib").collection == "unknowns_dlib_128"
    other = gallery(redis_client, milvus_client, "tenant_a")
    assert other.index("dlib").collection == "c_tenant_a_faces_dlib_128"
    assert other.people.by_id == "fs:c:tenant_a:people"


def test_a_search_never_crosses_collections(redis_client, milvus_client) -> None:
    rng = np.random.default_rng(3)
    a, b = gallery(redis_client, milvus_client, "a"), gallery(redis_client, milvus_client, "b")
    va, vb = unit(rng, 3), unit(rng, 3)
    pa = a.people.get_or_create("same name")
    pb = b.people.get_or_create("same name")
    assert pa != pb  # the same name is two people in two collections
    a.index("dlib").add(pa, va)
    b.index("dlib").add(pb, vb)
    assert set(a.index("dlib").search(vb)[0]) == {pa}
    assert set(b.index("dlib").search(va)[0]) == {pb}
    assert [p.person_id for p in a.people.all()] == [pa]
    assert [p.person_id for p in b.people.all()] == [pb]
    la = a.unknowns("dlib").label_for(va[0], "cam", 1.0)
    assert b.unknowns("dlib").label_for(va[0], "cam", 1.0) != la  # labels are per collection
    assert redis_client.smembers(keys.unknowns("a")) == {la.encode()}


def test_registry_and_camera_binding(redis_client) -> None:
    registry = Collections(redis_client)
    assert registry.names() == ["default"]
    assert registry.create("shop") and not registry.create("shop")
    assert registry.names() == ["default", "shop"]
    assert registry.of_camera("door") == "default"
    registry.bind_camera("door", "shop")
    assert registry.of_camera("door") == "shop"
    with pytest.raises(ConfigError, match="collection: expected one of"):
        registry.bind_camera("door", "nope")
