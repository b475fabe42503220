"""The gallery against the real servers: People in Valkey/Redis, VectorIndex in milvus-lite and in
a real Milvus server (auth on)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import redis
from pymilvus import MilvusClient

from config.errors import ConfigError
from workers import keys
from workers.gallery import People, VectorIndex
from workers.gallery.people import check_name
from workers.models.registry import MODELS

DIM = 64


@pytest.fixture(name="milvus_client")
def _milvus_client(milvus_on_both: MilvusClient) -> MilvusClient:
    return milvus_on_both  # every VectorIndex test here runs on milvus-lite and the real server


def unit_vectors(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


# --- People ---------------------------------------------------------------------------------


def test_get_or_create_is_stable_for_a_name(redis_client: redis.Redis) -> None:
    people = People(redis_client)
    first = people.get_or_create("obama")
    assert first.startswith("p-")
    assert people.get_or_create("obama") == first
    assert people.get_or_create("  obama \t") == first  # the name is stripped before lookup
    assert people.find("obama") == first
    assert people.names([first]) == {first: "obama"}
    assert redis_client.hlen(keys.PEOPLE) == 1


def test_distinct_names_get_distinct_ids(redis_client: redis.Redis) -> None:
    people = People(redis_client)
    names = ["obama", "biden", "Obama", "rose leslie", "Zoë Saldaña", "李小龙"]
    ids = [people.get_or_create(n) for n in names]
    assert len(set(ids)) == len(names)
    assert people.names(ids) == dict(zip(ids, names, strict=True))
    assert sorted(p.name for p in people.all()) == sorted(names)


def test_concurrent_get_or_create_agrees_on_one_id(redis_client: redis.Redis, stack) -> None:
    got: list[str] = []
    barrier = threading.Barrier(8)

    def enroll() -> None:
        client = redis.Redis.from_url(stack.redis_url)
        barrier.wait()
        got.append(People(client).get_or_create("kit_harington"))
        client.close()

    threads = [threading.Thread(target=enroll) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 8 and len(set(got)) == 1
    assert redis_client.hgetall(keys.PEOPLE) == {got[0].encode(): b"kit_harington"}


def test_unknown_names_and_ids(redis_client: redis.Redis) -> None:
    people = People(redis_client)
    assert people.find("nobody") is None
    assert people.names([]) == {}
    assert people.names(["p-000000000000"]) == {"p-000000000000": None}


def test_face_counts_per_model_and_remove(redis_client: redis.Redis) -> None:
    people = People(redis_client)
    obama, biden = people.get_or_create("obama"), people.get_or_create("biden")
    people.add_faces(obama, "dlib", 3)
    people.add_faces(obama, "dlib", 2)
    people.add_faces(obama, "facenet", 1)
    listed = {p.name: p for p in people.all()}
    assert listed["obama"].person_id == obama
    assert listed["obama"].faces == {"dlib": 5, "facenet": 1}
    assert listed["biden"].faces == {}

    people.remove(obama, "obama")
    assert people.find("obama") is None
    assert people.names([obama]) == {obama: None}
    assert not redis_client.exists(keys.person_faces(obama))
    assert [p.person_id for p in people.all()] == [biden]
    # the name is free again and gets a new id
    assert people.get_or_create("obama") not in (obama, biden)


@pytest.mark.parametrize(
    "name",
    [
        "",
        "   ",
        "a/b",
        "/",
        "x" * 65,
        "a\x00b",
        "a\nb",
        "tab\there",
        "\x1b[31mred",
        "bell\x07",
    ],
    ids=[
        "empty",
        "blank",
        "slash",
        "only-slash",
        "65-chars",
        "nul",
        "newline",
        "tab",
        "escape",
        "bell",
    ],
)
def test_check_name_rejects(name: str) -> None:
    with pytest.raises(ConfigError, match="person name"):
        check_name(name)


@pytest.mark.parametrize("name", ["a\x7fb", "a\x85b", "csi\x9b31m"], ids=["del", "nel", "c1-csi"])
def test_check_name_rejects_del_and_c1_controls(name: str) -> None:
    with pytest.raises(ConfigError):
        check_name(name)


def test_check_name_accepts_and_strips() -> None:
    assert check_name("x" * 64) == "x" * 64
    assert check_name("  Lin-Manuel Miranda ") == "Lin-Manuel Miranda"
    assert check_name("O'Brien (2nd)") == "O'Brien (2nd)"
    assert check_name("Zoë") == "Zoë"


def test_bad_name_writes_nothing(redis_client: redis.Redis) -> None:
    with pytest.raises(ConfigError) as info:
        People(redis_client).get_or_create("a/b")
    assert "'a/b'" in str(info.value)
    assert redis_client.keys("*") == []


# --- VectorIndex ------------------------------------------------------------------------------


def test_search_returns_the_best_score_per_person(milvus_client: MilvusClient) -> None:
    rng = np.random.default_rng(7)
    index = VectorIndex(milvus_client, "faces_test_64", DIM)
    a, b, c = unit_vectors(rng, 3), unit_vectors(rng, 2), unit_vectors(rng, 4)
    assert index.add("p-a", a) == 3
    assert index.add("p-b", b) == 2
    assert index.add("p-c", c) == 4

    queries = np.stack([a[1], b[0], unit_vectors(rng, 1)[0]])
    got = index.search(queries, top_k=9)  # every vector is a neighbour: every person appears
    assert len(got) == 3
    for query, scores in zip(queries, got, strict=True):
        assert set(scores) == {"p-a", "p-b", "p-c"}
        for pid, vecs in (("p-a", a), ("p-b", b), ("p-c", c)):
            assert scores[pid] == pytest.approx(float((vecs @ query).max()), abs=1e-4)
    assert got[0]["p-a"] == pytest.approx(1.0, abs=1e-4)
    assert max(got[0], key=got[0].get) == "p-a"
    assert got[1]["p-b"] == pytest.approx(1.0, abs=1e-4)
    assert max(got[1], key=got[1].get) == "p-b"


def test_search_top_k_limits_the_neighbours(milvus_client: MilvusClient) -> None:
    rng = np.random.default_rng(8)
    index = VectorIndex(milvus_client, "faces_test_64", DIM)
    a = unit_vectors(rng, 5)
    index.add("p-a", a)
    index.add("p-b", unit_vectors(rng, 5))
    [scores] = index.search(a[:1], top_k=1)
    assert scores == {"p-a": pytest.approx(1.0, abs=1e-4)}


def test_search_without_a_collection_returns_empty_dicts_and_creates_nothing(
    milvus_client: MilvusClient,
) -> None:
    index = VectorIndex(milvus_client, "faces_nobody_8", 8)
    assert index.search(unit_vectors(np.random.default_rng(1), 3, 8)) == [{}, {}, {}]
    assert index.search(np.zeros((0, 8), np.float32)) == []
    index.delete_person("p-a")  # nothing to delete from: no error, and still no collection
    assert not milvus_client.has_collection("faces_nobody_8")


def test_delete_person_removes_only_that_persons_vectors(milvus_client: MilvusClient) -> None:
    rng = np.random.default_rng(9)
    index = VectorIndex(milvus_client, "faces_test_64", DIM)
    a, b = unit_vectors(rng, 3), unit_vectors(rng, 2)
    index.add("p-a", a)
    index.add("p-b", b)

    index.delete_person("p-a")
    for scores in index.search(np.concatenate([a, b]), top_k=10):
        assert set(scores) == {"p-b"}
    assert (
        milvus_client.query("faces_test_64", filter='person_id == "p-a"', output_fields=["id"])
        == []
    )
    remaining = milvus_client.query(
        "faces_test_64", filter='person_id == "p-b"', output_fields=["id"]
    )
    assert len(remaining) == 2
    # the same index keeps working after a delete
    index.add("p-a", a[:1])
    assert index.search(a[:1], top_k=10)[0]["p-a"] == pytest.approx(1.0, abs=1e-4)


def test_delete_person_loads_a_released_collection(milvus_client: MilvusClient) -> None:
    """A Milvus started since the vectors were added has the collection released: an erasure
    by a new process (`people rm` on a fresh stack) loads it first."""
    rng = np.random.default_rng(11)
    VectorIndex(milvus_client, "faces_test_64", DIM).add("p-a", unit_vectors(rng, 2))
    milvus_client.release_collection("faces_test_64")
    fresh = VectorIndex(milvus_client, "faces_test_64", DIM)
    fresh.delete_person("p-a")
    assert fresh.faces("p-a") == []


def test_vectors_persist_for_a_new_index_object(milvus_client: MilvusClient) -> None:
    rng = np.random.default_rng(10)
    a = unit_vectors(rng, 2)
    VectorIndex(milvus_client, "faces_test_64", DIM).add("p-a", a)
    [scores] = VectorIndex(milvus_client, "faces_test_64", DIM).search(a[1:], top_k=5)
    assert scores["p-a"] == pytest.approx(1.0, abs=1e-4)


def test_collection_names_differ_per_model_and_weights_and_models_do_not_mix(
    milvus_client: MilvusClient,
) -> None:
    names = {spec.collection() for spec in MODELS.values()} | {
        spec.collection("unknowns") for spec in MODELS.values()
    }
    assert len(names) == 2 * len(
        MODELS
    )  # casia-webface and vggface2 vectors never share a collection
    assert MODELS["facenet-casia"].collection() == "faces_facenet_casia_webface_512"
    assert MODELS["facenet-vggface2"].collection() == "faces_facenet_vggface2_512"
    assert (
        MODELS["dlib"].collection("unknowns") == "unknowns_dlib_128"
    )  # as before: old galleries stay found
    dlib_name, facenet_name = MODELS["dlib"].collection(), MODELS["facenet-casia"].collection()

    rng = np.random.default_rng(11)
    dlib = VectorIndex(milvus_client, dlib_name, 128)
    facenet = VectorIndex(milvus_client, facenet_name, 512)
    dlib.add("p-a", unit_vectors(rng, 2, 128))
    assert milvus_client.has_collection(dlib_name)
    assert facenet.search(unit_vectors(rng, 1, 512)) == [{}]
    assert not milvus_client.has_collection(facenet_name)
    facenet.add("p-b", unit_vectors(rng, 1, 512))
    assert set(milvus_client.list_collections()) == {dlib_name, facenet_name}
    assert set(dlib.search(unit_vectors(rng, 1, 128))[0]) == {"p-a"}
    assert set(facenet.search(unit_vectors(rng, 1, 512))[0]) == {"p-b"}
