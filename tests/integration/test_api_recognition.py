"""The API on real parts: uvicorn on a free port, the embedded Redis and Milvus, the dlib models,
photos of ../shared/faces. Two collections, keys and roles, identify, look-alike search, the
quality gate."""

from __future__ import annotations

from pathlib import Path

import cv2
import httpx
import pytest

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.stack import Endpoints
from tests.support.api_server import api_server

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def api(stack: Endpoints, tmp_path_factory, shared_dir: Path):
    import redis

    from facestream.server_probes import open_milvus_client

    client = redis.Redis.from_url(stack.redis_url)
    client.flushall()
    milvus = open_milvus_client(stack.milvus_uri)
    for name in milvus.list_collections():
        milvus.drop_collection(name)
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api"),
        redis_url=stack.redis_url,
        milvus_uri=stack.milvus_uri,
        embedder="dlib",
    )
    _, admin = ApiKeys(client).create("admin")
    with api_server(settings, stack) as url:
        yield url, admin, client


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def photo(path: Path) -> tuple[str, bytes, str]:
    return (path.name, path.read_bytes(), "image/jpeg")


def enroll(url: str, key: str, collection: str, name: str, photos: list[Path]) -> str:
    got = httpx.post(
        f"{url}/v1/collections/{collection}/people", json={"name": name}, headers=auth(key)
    )
    assert got.status_code == 201, got.text
    pid = got.json()["id"]
    files = [("image", photo(p)) for p in photos]
    got = httpx.post(
        f"{url}/v1/collections/{collection}/people/{pid}/faces",
        files=files,
        headers=auth(key),
        timeout=300,
    )
    assert got.status_code == 200, got.text
    assert all(row["enrolled"] for row in got.json()["images"]), got.json()
    return pid


@pytest.fixture(scope="module")
def two_collections(api, shared_dir: Path):
    url, admin, _client = api
    gallery = shared_dir / "faces" / "gallery"
    for name in ("alpha", "beta"):
        got = httpx.post(f"{url}/v1/collections", json={"name": name}, headers=auth(admin))
        assert got.status_code == 201, got.text
    ids = {
        "obama": enroll(url, admin, "alpha", "obama", sorted((gallery / "obama").iterdir())),
        "biden": enroll(url, admin, "alpha", "biden", sorted((gallery / "biden").iterdir())),
        "kit": enroll(
            url, admin, "beta", "kit_harington", sorted((gallery / "kit_harington").iterdir())
        ),
        "rose": enroll(
            url, admin, "beta", "rose_leslie", sorted((gallery / "rose_leslie").iterdir())
        ),
    }
    return ids


def identify(url: str, key: str, collection: str, path: Path) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/collections/{collection}/identify",
        files={"image": photo(path)},
        headers=auth(key),
        timeout=120,
    )


def test_the_same_photo_is_identified_against_each_collection_only(
    api, two_collections, shared_dir
):
    url, admin, client = api
    probe = shared_dir / "faces" / "probes" / "two_people.jpg"
    alpha = identify(url, admin, "alpha", probe)
    assert alpha.status_code == 200, alpha.text
    assert sorted(f["name"] for f in alpha.json()["faces"]) == ["biden", "obama"]
    for face in alpha.json()["faces"]:
        assert face["person_id"] == two_collections[face["name"]]
        assert face["candidates"][0]["person_id"] == face["person_id"]
        assert face["score"] >= alpha.json()["threshold"]
    beta = identify(url, admin, "beta", probe)
    assert beta.status_code == 200, beta.text
    assert [f["name"] for f in beta.json()["faces"]] == [None, None]
    beta_ids = {two_collections["kit"], two_collections["rose"]}
    for face in beta.json()["faces"]:  # the candidates too come from beta alone
        assert {c["person_id"] for c in face["candidates"]} <= beta_ids
    kit = identify(url, admin, "beta", shared_dir / "faces" / "probes" / "kit_with_rose.jpg")
    assert sorted(f["name"] for f in kit.json()["faces"]) == ["kit_harington", "rose_leslie"]


def test_roles_and_revoked_keys(api, two_collections, shared_dir):
    url, _admin, client = api
    keys = ApiKeys(client)
    read_rec, read_a = keys.create("read", "alpha")
    _, write_a = keys.create("write", "alpha")
    probe = shared_dir / "faces" / "probes" / "obama1.jpg"
    assert identify(url, read_a, "alpha", probe).json()["faces"][0]["name"] == "obama"
    other = identify(url, read_a, "beta", probe)
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    assert "beta" in other.json()["detail"]
    # a read key may not write; a write key may not create collections
    got = httpx.post(f"{url}/v1/collections/alpha/people", json={"name": "x"}, headers=auth(read_a))
    assert got.status_code == 403
    got = httpx.post(f"{url}/v1/collections", json={"name": "gamma"}, headers=auth(write_a))
    assert got.status_code == 403
    listed = httpx.get(f"{url}/v1/collections", headers=auth(read_a)).json()
    assert [c["name"] for c in listed] == ["alpha"]
    assert httpx.get(f"{url}/v1/collections/alpha/people", headers={}).status_code == 401
    wrong = httpx.get(f"{url}/v1/collections/alpha/people", headers=auth("fsk_kdeadbeef_nope"))
    assert wrong.status_code == 401
    assert keys.revoke(read_rec.key_id)
    assert identify(url, read_a, "alpha", probe).status_code == 401
    metrics = httpx.get(f"{url}/metrics", headers=auth(write_a)).text
    assert "facestream_api_requests" in metrics
    assert read_a not in metrics and write_a not in metrics and "obama" not in metrics


def test_look_alike_search_returns_k_people_none_identified(api, two_collections, shared_dir):
    url, admin, _ = api
    stranger = shared_dir / "faces" / "singles" / "paul_rudd" / "1.jpg"
    got = httpx.post(
        f"{url}/v1/collections/alpha/search?k=2",
        files={"image": photo(stranger)},
        headers=auth(admin),
        timeout=120,
    )
    assert got.status_code == 200, got.text
    body = got.json()
    people = body["people"]
    assert {p["person_id"] for p in people} == {two_collections["obama"], two_collections["biden"]}
    scores = [p["score"] for p in people]
    assert scores == sorted(scores, reverse=True)
    assert all(s < body["threshold"] for s in scores)  # look-alikes, nobody recognised
    assert "name" not in body and "identified" not in body
    few = httpx.post(
        f"{url}/v1/collections/alpha/search?k=1&min_score=0.99",
        files={"image": photo(stranger)},
        headers=auth(admin),
        timeout=120,
    )
    assert few.json()["people"] == []


def test_quality_gate_refuses_a_blurred_face_unless_forced(
    api, two_collections, shared_dir, tmp_path
):
    url, admin, _ = api
    bgr = cv2.imread(str(shared_dir / "faces" / "singles" / "kate_siegel" / "1.jpg"))
    blurred = tmp_path / "blurred.jpg"
    cv2.imwrite(str(blurred), cv2.GaussianBlur(bgr, (0, 0), 6))
    pid = httpx.post(
        f"{url}/v1/collections/alpha/people", json={"name": "kate"}, headers=auth(admin)
    ).json()["id"]
    faces_url = f"{url}/v1/collections/alpha/people/{pid}/faces"
    multi = shared_dir / "faces" / "probes" / "multiface.jpg"
    got = httpx.post(
        faces_url,
        files=[("image", photo(blurred)), ("image", photo(multi))],
        headers=auth(admin),
        timeout=300,
    )
    assert got.status_code == 200, got.text
    blur_row, multi_row = got.json()["images"]
    assert not blur_row["enrolled"] and "blurred" in blur_row["reasons"][0], blur_row
    assert multi_row["enrolled"] and "6 faces" in multi_row["note"], multi_row
    forced = httpx.post(
        f"{faces_url}?force=true", files={"image": photo(blurred)}, headers=auth(admin), timeout=300
    )
    row = forced.json()["images"][0]
    assert row["enrolled"] and row["forced_past"], row
    faces = httpx.get(faces_url, headers=auth(admin)).json()
    assert {f["face_id"] for f in faces} == {multi_row["face_id"], row["face_id"]}
    gone = httpx.delete(f"{faces_url}/{row['face_id']}", headers=auth(admin))
    assert gone.status_code == 204
    assert [f["face_id"] for f in httpx.get(faces_url, headers=auth(admin)).json()] == [
        multi_row["face_id"]
    ]
    assert httpx.delete(f"{faces_url}/{row['face_id']}", headers=auth(admin)).status_code == 404
    person = httpx.get(f"{url}/v1/collections/alpha/people/{pid}", headers=auth(admin)).json()
    assert person["faces"] == {"dlib": 1}
    renamed = httpx.patch(
        f"{url}/v1/collections/alpha/people/{pid}",
        json={"name": "kate siegel"},
        headers=auth(admin),
    )
    assert renamed.json()["name"] == "kate siegel"
    page = httpx.get(
        f"{url}/v1/collections/alpha/people?limit=1&offset=1", headers=auth(admin)
    ).json()
    assert page["total"] == 3 and len(page["people"]) == 1
