"""A file camera bound to a collection, watched over the API: an SSE client receives its named
tracks while the run goes on, and after a disconnect resumes with Last-Event-ID so that it
receives each event exactly once overall. Real run (CLI), real models, the hamilton clip."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import redis

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.stack import EmbeddedStack
from tests.support.api_server import api_server, enroll_lin
from tests.support.sse import SseClient
from workers import keys
from workers.bus import FIELD

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def test_sse_of_a_run_on_a_collection_resumes_exactly(tmp_path: Path, examples_dir: Path, cli):
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
            enroll_lin(url, admin, examples_dir)
            _, reader = ApiKeys(client).create("read", "stage")
            r = {"Authorization": f"Bearer {reader}"}
            events = f"{url}/v1/events?named=true"
            first = SseClient(events, r, max_events=5).start()
            run = subprocess.Popen(
                [sys.executable, "-m", "facestream", "--data-dir", str(data_dir),
                 "--redis-url", endpoints.redis_url, "--milvus-uri", endpoints.milvus_uri,
                 "--embedder", "dlib", "--collection", "stage",
                 "run", str(examples_dir / "hamilton_360p.mp4"), "--camera", "stage-cam"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            deadline = time.monotonic() + 600
            while not first.done() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert len(first.events) == 5, (first.error, first.events)
            assert run.poll() is None, "the first events must arrive while the run goes on"
            last_id = first.events[-1][0]
            second = SseClient(events, r | {"Last-Event-ID": last_id}).start()
            out, err = run.communicate(timeout=900)
            assert run.returncode == 0, err[-3000:]
            expected = [
                eid.decode()
                for eid, fields in client.xrange(keys.RESULTS)
                if msgpack.unpackb(fields[FIELD], raw=False).get("name")
            ]
            deadline = time.monotonic() + 60
            while len(first.events) + len(second.events) < len(expected):
                assert time.monotonic() < deadline, (len(second.events), len(expected))
                time.sleep(0.2)
            second.stop()
    got = [eid for eid, _, _ in first.events + second.events]
    assert got == expected  # every named record and event exactly once, in stream order
    names = {data["name"] for _, _, data in first.events + second.events}
    assert names == {"lin_manuel_miranda"}
    assert {data["camera"] for _, _, data in second.events} == {"stage-cam"}
    assert any(kind == "lifecycle" for _, kind, _ in second.events)
