"""Reports read the results stream of a real Redis, page by page, past unreadable entries."""

from __future__ import annotations

import json
import subprocess
import sys

import msgpack

from facestream.reports import records
from workers import keys, result_streams
from workers.bus import FIELD


def test_every_record_of_the_stream_is_read_in_pages(redis_client, monkeypatch) -> None:
    monkeypatch.setattr(result_streams, "PAGE", 3)  # 7 entries: pages of 3, 3 and 1
    for frame in range(6):
        record = {"camera": "door", "frame": frame, "ts": frame / 25, "track_id": "t", "run": "r"}
        redis_client.xadd(keys.RESULTS, {FIELD: msgpack.packb(record)})
        if frame == 2:
            redis_client.xadd(keys.RESULTS, {FIELD: b"\xc1 not msgpack"})
    got = list(records.read_stream(redis_client))
    assert [r["frame"] for r in got] == list(range(6))


def test_a_report_is_of_the_collections_cameras_only(stack, redis_client, tmp_path) -> None:
    from workers.gallery.collections import Collections

    registry = Collections(redis_client)
    registry.create("shop")
    registry.bind_camera("door", "shop")  # lobby watches with `default`
    for camera, name in (("door", "obama"), ("lobby", "biden")):
        for frame in range(5):
            record = {
                "camera": camera,
                "frame": frame,
                "ts": frame / 25,
                "track_id": f"{camera}-1",
                "run": "r",
                "name": name,
                "person_id": name,
                "score": 0.9,
                "bbox": [1, 2, 3, 4],
            }
            redis_client.xadd(keys.RESULTS, {FIELD: msgpack.packb(record)})

    def names(*collection: str) -> set[str]:
        args = [sys.executable, "-m", "facestream", "--data-dir", str(tmp_path)]
        args += ["--redis-url", stack.redis_url, "--milvus-uri", stack.milvus_uri, *collection]
        done = subprocess.run(
            [*args, "report", "screen-time", "--json"], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return {row["name"] for row in json.loads(done.stdout)}

    assert names("--collection", "shop") == {"obama"}
    assert names() == {"biden"}  # the default collection's cameras
