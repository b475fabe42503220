"""Reports over the API: screen time as JSON, CSV and a PNG chart, a timeline, per collection."""

from __future__ import annotations

import httpx
import msgpack
import pytest

from facestream.apikeys import ApiKeys
from workers import keys
from workers.bus import FIELD
from workers.gallery.collections import Collections

pytestmark = pytest.mark.timeout(600)


def face(client, camera: str, track: str, name: str | None, frame: int, fps: float = 25) -> None:
    record = {
        "camera": camera,
        "run": "r1",
        "frame": frame,
        "ts": round(frame / fps, 3),
        "track_id": track,
        "name": name,
        "person_id": None,
        "score": 0.95,
        "bbox": [1, 2, 3, 4],
        "capture_time": 0.0,
        "label": name,
    }
    client.xadd(keys.RESULTS, {FIELD: msgpack.packb(record)})


@pytest.fixture
def two_collections(admin_api):
    url, admin, client = admin_api
    registry = Collections(client)
    registry.create("shop")
    registry.bind_camera("door", "shop")
    for frame in range(50):  # ada on the shop's door for 2 s, bob for the first second
        face(client, "door", "t1", "ada", frame)
        if frame < 25:
            face(client, "door", "t2", "bob", frame)
    for frame in range(100):  # carol on the lobby (the default collection) for 4 s
        face(client, "lobby", "t3", "carol", frame)
    client.xadd(keys.RESULTS, {FIELD: b"\xc1 not msgpack"})  # skipped, not a server error
    client.xadd(keys.RESULTS, {FIELD: msgpack.packb({"camera": "door", "frame": "x"})})
    _, reader = ApiKeys(client).create("read", "shop")
    return url, admin, {"Authorization": f"Bearer {reader}"}


def test_screen_time_of_a_collections_cameras_only(two_collections) -> None:
    url, admin, reader = two_collections
    rows = httpx.get(f"{url}/v1/reports/screen-time", headers=reader).json()
    assert [(r["name"], r["camera"], r["seconds"]) for r in rows] == [
        ("ada", "door", 2.0),
        ("bob", "door", 1.0),
    ]
    everyone = httpx.get(f"{url}/v1/reports/screen-time", headers=admin).json()
    assert {r["name"] for r in everyone} == {"ada", "bob", "carol"}
    denied = httpx.get(f"{url}/v1/reports/screen-time?collection=default", headers=reader)
    assert denied.status_code == 403


def test_screen_time_as_csv_and_as_a_png_chart(two_collections) -> None:
    url, _, reader = two_collections
    csv = httpx.get(f"{url}/v1/reports/screen-time?format=csv", headers=reader)
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("name,unknown,camera,seconds")
    assert csv.text.splitlines()[1].startswith("ada,False,door,2.0")
    png = httpx.get(f"{url}/v1/reports/screen-time?format=png&timeline=true", headers=reader)
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_timeline_of_a_person(two_collections) -> None:
    url, admin, reader = two_collections
    rows = httpx.get(f"{url}/v1/reports/timeline?name=bob", headers=reader).json()
    assert rows == [
        {"name": "bob", "camera": "door", "run": "r1", "start": 0.0, "end": 1.0, "seconds": 1.0}
    ]
    # carol watches with another collection: the shop's key does not see her
    assert httpx.get(f"{url}/v1/reports/timeline?name=carol", headers=reader).json() == []
    assert len(httpx.get(f"{url}/v1/reports/timeline?name=carol", headers=admin).json()) == 1


@pytest.mark.parametrize(
    "query",
    ["format=pdf", "bridge_s=-1", "camera=../x", "collection=No Such", "timeline=maybe"],
)
def test_bad_report_requests_are_4xx(two_collections, query: str) -> None:
    url, admin, _ = two_collections
    got = httpx.get(f"{url}/v1/reports/screen-time?{query}", headers=admin)
    assert 400 <= got.status_code < 500, (query, got.status_code, got.text)
