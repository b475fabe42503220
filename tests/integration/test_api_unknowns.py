"""The unknown labels' review endpoints over real HTTP (uvicorn), real Redis and milvus-lite:
label, reject, merge, their refusals as problem+json, `/v1/tracks` naming a labelled label's past
tracks, and erasure of the person leaving neither the label's mapping nor its vectors."""

from __future__ import annotations

import httpx
import msgpack
import numpy as np
import pytest

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.services import Services
from tests.support.api_server import api_server
from workers import keys
from workers.bus import FIELD
from workers.gallery.collections import Collections
from workers.models.registry import spec

DIM = spec("dlib").dim
PROBLEM = "application/problem+json"


def _views(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    centre = rng.normal(size=DIM)
    vs = [centre + 0.05 * rng.normal(size=DIM) for _ in range(n)]
    return [(v / np.linalg.norm(v)).astype(np.float32) for v in vs]


def _face(camera: str, track: str, label: str, frame: int) -> dict:
    return {
        "camera": camera,
        "frame": frame,
        "ts": frame / 25,
        "track_id": track,
        "name": None,
        "person_id": None,
        "score": 0.3,
        "bbox": [1.0, 2.0, 30.0, 40.0],
        "capture_time": 1.0,
        "label": label,
        "run": "r1",
    }


def _event(event: str, camera: str, track: str, frame: int) -> dict:
    return {
        "event": event,
        "camera": camera,
        "frame": frame,
        "ts": frame / 25,
        "track_id": track,
        "name": None,
        "score": 0.0,
    }


@pytest.fixture
def api(settings: Settings, stack, redis_client, milvus_client):
    """Two unknown labels seen on camera `door` (three tracks of one face, one of another), their
    records in the results stream, an admin key, a read key and a write key of `default`."""
    services = Services(settings, stack)
    unknowns = services.gallery("default").unknowns("dlib")
    rng = np.random.default_rng(11)
    first = {unknowns.label_for(v, "door", 10.0) for v in _views(rng, 3)}
    second = {unknowns.label_for(v, "door", 20.0) for v in _views(rng, 1)}
    (a,), (b,) = first, second
    for track, label in (("t1", a), ("t2", b)):
        redis_client.xadd(keys.RESULTS, {FIELD: msgpack.packb(_event("start", "door", track, 1))})
        redis_client.xadd(keys.RESULTS, {FIELD: msgpack.packb(_face("door", track, label, 1))})
        redis_client.xadd(keys.RESULTS, {FIELD: msgpack.packb(_event("end", "door", track, 9))})
    registry = ApiKeys(redis_client)
    _, admin = registry.create("admin")
    _, reader = registry.create("read", "default")
    _, writer = registry.create("write", "default")
    with api_server(settings, stack) as url:
        yield (
            url,
            a,
            b,
            {
                role: {"Authorization": f"Bearer {k}"}
                for role, k in (("admin", admin), ("read", reader), ("write", writer))
            },
            services,
        )


def _tracks(url: str, headers: dict) -> dict[str, dict]:
    got = httpx.get(f"{url}/v1/tracks", headers=headers)
    assert got.status_code == 200, got.text
    return {t["track_id"]: t for t in got.json()}


def test_labelling_names_the_past_tracks_and_enrolls_the_face(api) -> None:
    url, a, b, keys_of, services = api
    before = _tracks(url, keys_of["read"])
    assert (before["t1"]["name"], before["t1"]["label"]) == (None, a)
    got = httpx.post(
        f"{url}/v1/unknowns/{a}/label", json={"name": "guest_one"}, headers=keys_of["write"]
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["label"] == a and body["name"] == "guest_one" and body["vectors"] == 3
    assert body["enrolled"] == {"dlib": 3}
    after = _tracks(url, keys_of["read"])
    assert after["t1"]["name"] == "guest_one" and after["t2"]["name"] is None
    listed = httpx.get(f"{url}/v1/unknowns", headers=keys_of["read"]).json()
    assert [u["label"] for u in listed] == [b]
    person = httpx.get(
        f"{url}/v1/collections/default/people/{body['person_id']}", headers=keys_of["read"]
    ).json()
    assert person["faces"] == {"dlib": 3}
    again = httpx.post(
        f"{url}/v1/unknowns/{a}/label", json={"name": "guest_one"}, headers=keys_of["write"]
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    assert again.json()["field"] == "label" and "labelled as a person" in again.json()["detail"]


def test_merge_then_reject(api) -> None:
    url, a, b, keys_of, services = api
    got = httpx.post(f"{url}/v1/unknowns/{a}/merge", json={"others": [b]}, headers=keys_of["write"])
    assert got.status_code == 200, got.text
    assert got.json()["label"] == a and got.json()["tracks"] == 4
    assert [
        u["label"] for u in httpx.get(f"{url}/v1/unknowns", headers=keys_of["read"]).json()
    ] == [a]
    merged_twice = httpx.post(
        f"{url}/v1/unknowns/{a}/merge", json={"others": [b]}, headers=keys_of["write"]
    )
    assert merged_twice.status_code == 409 and merged_twice.json()["field"] == "others"
    gone = httpx.delete(f"{url}/v1/unknowns/{a}", headers=keys_of["write"])
    assert gone.status_code == 204, gone.text
    assert httpx.get(f"{url}/v1/unknowns", headers=keys_of["read"]).json() == []
    rows = services.milvus.query(
        services.gallery("default").unknowns("dlib").collection,
        filter="",
        output_fields=["count(*)"],
        consistency_level="Strong",
    )
    assert rows[0]["count(*)"] == 0
    assert not services.redis.exists(keys.unknown(a), keys.unknown(b))
    assert services.redis.hlen(keys.unknown_became("default")) == 0
    again = httpx.delete(f"{url}/v1/unknowns/{a}", headers=keys_of["write"])
    assert again.status_code == 404 and again.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    ("method", "path", "body", "role", "status", "field"),
    [
        ("post", "/v1/unknowns/p-1/label", {"name": "x"}, "write", 422, "label"),
        ("post", "/v1/unknowns/unknown-00000000/label", {"name": "x"}, "write", 404, "label"),
        ("post", "/v1/unknowns/{a}/label", {"name": ""}, "write", 422, "name"),
        ("post", "/v1/unknowns/{a}/label", {"name": "a/b"}, "write", 422, "name"),
        ("post", "/v1/unknowns/{a}/label", {"nom": "x"}, "write", 422, "name"),
        ("post", "/v1/unknowns/{a}/label", {"name": "x"}, "read", 403, None),
        (
            "post",
            "/v1/unknowns/{a}/label?collection=nope",
            {"name": "x"},
            "admin",
            404,
            "collection",
        ),
        ("delete", "/v1/unknowns/unknown-zz", None, "write", 422, "label"),
        ("delete", "/v1/unknowns/{a}", None, "read", 403, None),
        ("post", "/v1/unknowns/{a}/merge", {"others": []}, "write", 422, "others"),
        ("post", "/v1/unknowns/{a}/merge", {"others": ["{a}"]}, "write", 422, "others"),
        ("post", "/v1/unknowns/{a}/merge", {"others": ["bogus"]}, "write", 422, "others"),
        ("post", "/v1/unknowns/{a}/merge", {"others": ["unknown-0"]}, "write", 404, "others"),
        ("post", "/v1/unknowns/unknown-0/merge", {"others": ["{a}"]}, "write", 404, "label"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(api, method, path, body, role, status, field):
    url, a, b, keys_of, services = api
    path = path.replace("{a}", a)
    if body and "others" in body:
        body = {"others": [o.replace("{a}", a) for o in body["others"]]}
    got = httpx.request(method.upper(), f"{url}{path}", json=body, headers=keys_of[role])
    assert got.status_code == status, got.text
    assert got.headers["content-type"] == PROBLEM
    if field is not None:
        assert got.json().get("field") == field, got.json()
    listed = httpx.get(f"{url}/v1/unknowns", headers=keys_of["read"]).json()
    assert sorted(u["label"] for u in listed) == sorted([a, b])
    assert services.gallery("default").people.all() == []


def test_a_key_of_another_collection_cannot_touch_the_labels(api, redis_client) -> None:
    url, a, _, _, _ = api
    Collections(redis_client).create("club")
    _, club = ApiKeys(redis_client).create("write", "club")
    headers = {"Authorization": f"Bearer {club}"}
    assert httpx.delete(f"{url}/v1/unknowns/{a}", headers=headers).status_code == 404  # its own
    denied = httpx.delete(f"{url}/v1/unknowns/{a}?collection=default", headers=headers)
    assert denied.status_code == 403


def test_erasing_the_person_leaves_no_mapping_no_vectors_no_records(api) -> None:
    url, a, b, keys_of, services = api
    got = httpx.post(
        f"{url}/v1/unknowns/{a}/label", json={"name": "guest_one"}, headers=keys_of["write"]
    )
    pid = got.json()["person_id"]
    gone = httpx.delete(f"{url}/v1/collections/default/people/{pid}", headers=keys_of["write"])
    assert gone.status_code == 204, gone.text
    assert services.redis.hlen(keys.unknown_became("default")) == 0
    assert services.gallery("default").index("dlib").faces(pid) == []
    unknown_rows = services.milvus.query(
        services.gallery("default").unknowns("dlib").collection,
        filter=f'label == "{a}"',
        output_fields=["id"],
        consistency_level="Strong",
    )
    assert unknown_rows == []
    labels = [
        msgpack.unpackb(f[FIELD], raw=False).get("label")
        for _, f in services.redis.xrange(keys.RESULTS)
    ]
    assert a not in labels and b in labels  # the records of the erased face are gone, others stay
    tracks = _tracks(url, keys_of["read"])
    assert tracks["t1"]["name"] is None and tracks["t1"]["label"] is None


def test_erasing_a_collection_forgets_its_labelled_labels(api, redis_client) -> None:
    url, _, _, keys_of, services = api
    headers = keys_of["admin"]
    assert httpx.post(f"{url}/v1/collections", json={"name": "club"}, headers=headers).is_success
    Collections(redis_client).bind_camera("gate", "club")
    (v,) = _views(np.random.default_rng(2), 1)
    label = services.gallery("club").unknowns("dlib").label_for(v, "gate", 5.0)
    got = httpx.post(
        f"{url}/v1/unknowns/{label}/label?collection=club", json={"name": "x"}, headers=headers
    )
    assert got.status_code == 200, got.text
    assert redis_client.hlen(keys.unknown_became("club")) == 1
    assert httpx.delete(f"{url}/v1/collections/club", headers=headers).status_code == 204
    assert not redis_client.exists(keys.unknown_became("club"))
    assert redis_client.hlen(keys.unknown_became("default")) == 0  # the default's untouched
    assert len(httpx.get(f"{url}/v1/unknowns", headers=keys_of["read"]).json()) == 2
