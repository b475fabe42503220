"""Live results over the API: SSE with Last-Event-ID resume, tracks, unknowns, cameras."""

from __future__ import annotations

import time

import httpx
import msgpack
import pytest

from facestream.apikeys import ApiKeys
from tests.support.sse import SseClient
from workers import keys
from workers.bus import FIELD
from workers.gallery.collections import Collections

pytestmark = pytest.mark.timeout(600)


def publish(client, camera: str, track: str, event: str | None, name: str | None, ts: float) -> str:
    record = (
        {
            "event": event,
            "camera": camera,
            "frame": int(ts * 30),
            "ts": ts,
            "track_id": track,
            "name": name,
            "score": 0.95 if name else 0.0,
        }
        if event
        else {
            "camera": camera,
            "frame": int(ts * 30),
            "ts": ts,
            "track_id": track,
            "name": name,
            "person_id": None,
            "score": 0.95,
            "bbox": [1, 2, 3, 4],
            "capture_time": time.time(),
            "label": name,
        }
    )
    return client.xadd(keys.RESULTS, {FIELD: msgpack.packb(record)}).decode()


def wait_for(client: SseClient, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(client.events) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(client.events) >= n, (len(client.events), n, client.error)


def test_sse_resumes_with_last_event_id_without_loss_or_duplicates(admin_api):
    url, headers, client = admin_api
    registry = Collections(client)
    registry.create("shop")
    registry.bind_camera("door", "shop")
    _, reader = ApiKeys(client).create("read", "shop")
    events_url = f"{url}/v1/events?collection=shop&named=true"
    sub = SseClient(events_url, {"Authorization": f"Bearer {reader}"}).start()
    expected = []
    for i in range(10):
        expected.append(publish(client, "door", "t1", None, "obama", i / 30))
        publish(client, "door", "t2", None, None, i / 30)  # unnamed: filtered out
        publish(client, "lobby", "t3", None, "biden", i / 30)  # another collection's camera
    wait_for(sub, 10)
    sub.stop()
    seen = [eid for eid, _, _ in sub.events]
    # disconnected: these are written while nobody listens
    for i in range(10, 20):
        expected.append(publish(client, "door", "t1", None, "obama", i / 30))
    expected.append(publish(client, "door", "t1", "end", "obama", 20 / 30))
    again = SseClient(
        events_url, {"Authorization": f"Bearer {reader}", "Last-Event-ID": seen[-1]}
    ).start()
    wait_for(again, 11)
    again.stop()
    got = seen + [eid for eid, _, _ in again.events]
    assert got == expected  # each exactly once, in order
    assert all(data["name"] == "obama" for _, _, data in sub.events + again.events)
    assert again.events[-1][1] == "lifecycle"
    # a read key of another collection, and a bad Last-Event-ID
    assert (
        httpx.get(
            f"{url}/v1/events?collection=default", headers={"Authorization": f"Bearer {reader}"}
        ).status_code
        == 403
    )
    bad = httpx.get(events_url, headers=headers | {"Last-Event-ID": "yesterday"})
    assert bad.status_code == 422 and bad.json()["field"] == "Last-Event-ID"


def test_tracks_and_unknowns(admin_api):
    url, headers, client = admin_api
    since = time.time() - 1
    publish(client, "door", "t1", "start", None, 0.0)
    publish(client, "door", "t1", "identified", "obama", 0.5)
    publish(client, "door", "t1", "end", "obama", 2.0)
    publish(client, "hall", "t9", "start", None, 1.0)
    got = httpx.get(f"{url}/v1/tracks?camera=door&since={since}", headers=headers)
    assert got.status_code == 200, got.text
    (track,) = got.json()
    assert track["track_id"] == "t1" and track["name"] == "obama"
    assert track["start_ts"] == 0.0 and track["end_ts"] == 2.0 and track["end"] >= track["start"]
    everything = httpx.get(f"{url}/v1/tracks", headers=headers).json()
    assert {t["track_id"]: t["end"] for t in everything}["t9"] is None  # still going
    assert httpx.get(f"{url}/v1/tracks?since=-1", headers=headers).status_code == 422
    assert httpx.get(f"{url}/v1/unknowns", headers=headers).json() == []


def test_cameras_never_echo_credentials(admin_api):
    url, headers, client = admin_api
    Collections(client).create("shop")
    body = {"name": "gate", "url": "rtsp://admin:s3cret@10.0.0.5/stream", "collection": "shop"}
    got = httpx.post(f"{url}/v1/cameras", json=body, headers=headers)
    assert got.status_code == 201, got.text
    assert "s3cret" not in got.text and got.json()["collection"] == "shop"
    listed = httpx.get(f"{url}/v1/cameras", headers=headers)
    assert "s3cret" not in listed.text and [c["name"] for c in listed.json()] == ["gate"]
    assert Collections(client).of_camera("gate") == "shop"
    assert httpx.post(f"{url}/v1/cameras", json=body, headers=headers).status_code == 409
    bad = httpx.post(f"{url}/v1/cameras", json=body | {"name": "a b"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["field"] == "name"
    nope = httpx.post(
        f"{url}/v1/cameras", json=body | {"name": "x", "collection": "zz"}, headers=headers
    )
    assert nope.status_code == 404
    assert httpx.delete(f"{url}/v1/cameras/gate", headers=headers).status_code == 204
    assert httpx.delete(f"{url}/v1/cameras/gate", headers=headers).status_code == 404
    _, writer = ApiKeys(client).create("write", "shop")
    assert (
        httpx.get(f"{url}/v1/cameras", headers={"Authorization": f"Bearer {writer}"}).status_code
        == 403
    )
