"""The embedded stack against real servers: Valkey/Redis and milvus-lite."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
import redis
from pymilvus import MilvusClient

from config.settings import Settings
from facestream import server_probes, servers
from facestream.stack import EmbeddedStack, Endpoints


def _settings(data_dir: Path, **kw: object) -> Settings:
    return Settings(data_dir=data_dir, **{"redis_url": None, "milvus_uri": None, **kw})


def _gone(pid: int) -> bool:
    return not servers.pid_alive(pid)


def test_redis_answers_ping_and_streams(redis_client: redis.Redis) -> None:
    assert redis_client.ping()
    redis_client.xgroup_create("fs:test", "g", id="0", mkstream=True)
    entry_id = redis_client.xadd("fs:test", {"k": b"v"})
    got = redis_client.xreadgroup("g", "c1", {"fs:test": ">"}, count=10)
    assert got == [[b"fs:test", [(entry_id, {b"k": b"v"})]]]
    assert redis_client.xack("fs:test", "g", entry_id) == 1


def test_redis_has_aof_on_and_listens_on_loopback_only(redis_client: redis.Redis) -> None:
    assert redis_client.config_get("appendonly") == {"appendonly": "yes"}
    assert redis_client.config_get("appendfsync") == {"appendfsync": "everysec"}
    assert redis_client.config_get("bind")["bind"].split() == ["127.0.0.1"]
    assert redis_client.config_get("protected-mode") == {"protected-mode": "yes"}


def test_milvus_creates_inserts_and_searches(milvus_client: MilvusClient) -> None:
    milvus_client.create_collection("faces_test", dimension=4, metric_type="COSINE")
    rows = [
        {"id": i, "vector": v} for i, v in enumerate([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
    ]
    assert milvus_client.insert("faces_test", rows)["insert_count"] == 3
    hits = milvus_client.search("faces_test", data=[[0.0, 0.9, 0.1, 0.0]], limit=2)
    assert hits[0][0]["id"] == 1
    assert "faces_test" in milvus_client.list_collections()


def test_second_stack_reuses_servers_and_only_the_starter_stops_them(tmp_path: Path) -> None:
    first = EmbeddedStack(_settings(tmp_path))
    ep1 = first.start()
    try:
        pids = {s.name: s.pid for s in first.started}
        assert set(pids) == {"redis", "milvus"}
        record = json.loads((tmp_path / "stack" / "redis.json").read_text())
        # the record holds no password; the endpoint carries the one from the 0600 password file
        password = (tmp_path / "stack" / "redis.password").read_text().strip()
        assert record == {
            "name": "redis",
            "pid": pids["redis"],
            "port": record["port"],
            "url": f"redis://127.0.0.1:{record['port']}/0",
            "owner": os.getpid(),  # who stops it; a later command adopts it once that is gone
        }
        assert ep1.redis_url == f"redis://:{password}@127.0.0.1:{record['port']}/0"

        second = EmbeddedStack(_settings(tmp_path))
        with second as ep2:
            assert ep2 == ep1
            assert second.started == ()
        # the second one's exit left the servers running
        assert redis.Redis.from_url(ep1.redis_url).ping()
        assert server_probes.milvus_ready(ep1.milvus_uri, int(ep1.milvus_uri.rsplit(":", 1)[1]))
    finally:
        first.stop()
    assert all(_gone(pid) for pid in pids.values())
    assert not (tmp_path / "stack" / "redis.json").exists()
    assert not (tmp_path / "stack" / "milvus.json").exists()


def test_concurrent_starts_share_one_server_per_kind(tmp_path: Path) -> None:
    stacks = [EmbeddedStack(_settings(tmp_path)) for _ in range(2)]
    barrier = threading.Barrier(len(stacks))
    results: list[Endpoints | BaseException] = [None, None]  # type: ignore[list-item]

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = stacks[i].start()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(stacks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert all(isinstance(r, Endpoints) for r in results), results
        assert results[0] == results[1]
        started = [s.name for st in stacks for s in st.started]
        assert sorted(started) == ["milvus", "redis"]
    finally:
        for st in stacks:
            st.stop()


def test_stale_record_is_replaced(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "stack").mkdir()
    stale = {"name": "redis", "pid": dead.pid, "port": 1, "url": "redis://127.0.0.1:1/0"}
    (tmp_path / "stack" / "redis.json").write_text(json.dumps(stale))
    stack = EmbeddedStack(_settings(tmp_path, milvus_uri="http://milvus.invalid:19530"))
    with stack as ep:
        assert ep.redis_url != stale["url"]
        assert [s.name for s in stack.started] == ["redis"]
        assert redis.Redis.from_url(ep.redis_url).ping()


def test_data_survives_a_restart(tmp_path: Path) -> None:
    with EmbeddedStack(_settings(tmp_path)) as ep:
        r = redis.Redis.from_url(ep.redis_url)
        r.set("person:1:name", "Ada")
        r.close()
        client = server_probes.open_milvus_client(ep.milvus_uri)
        client.create_collection("persist", dimension=2)
        client.insert("persist", [{"id": 7, "vector": [0.6, 0.8]}])
        client.close()
    with EmbeddedStack(_settings(tmp_path)) as ep:
        assert redis.Redis.from_url(ep.redis_url).get("person:1:name") == b"Ada"
        client = server_probes.open_milvus_client(ep.milvus_uri)
        client.load_collection("persist")  # like real Milvus: released after a restart
        assert client.get("persist", ids=[7])[0]["id"] == 7
        client.close()


def test_external_urls_pass_through_without_starting_anything(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, redis_url="redis://redis.example:6380/3", milvus_uri="http://milvus.example:19530"
    )
    stack = EmbeddedStack(settings)
    with stack as ep:
        assert ep == Endpoints("redis://redis.example:6380/3", "http://milvus.example:19530")
        assert stack.started == ()
    assert not tmp_path.exists() or os.listdir(tmp_path) == []


def test_missing_redis_binary_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(servers.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(servers.shutil, "which", lambda name: None)
    with pytest.raises(servers.StackError, match="valkey-server"):
        servers.redis_binary()


def test_an_idle_milvus_client_does_not_break_the_next_one(stack: Endpoints) -> None:
    """pymilvus's default keepalive pings an idle channel every 10 s; milvus-lite answers with GOAWAY
    "too_many_pings", and a shared channel idle for more than 30 s is health-checked and recovered
    when the next client opens -- which failed (a CI failure; reproduced here with a 90 s idle
    default client). With ``open_milvus_client`` both the idle client and a new one keep working."""
    import time

    idle = server_probes.open_milvus_client(stack.milvus_uri)
    idle.list_collections()
    time.sleep(90)
    fresh = server_probes.open_milvus_client(stack.milvus_uri)
    try:
        assert isinstance(fresh.list_collections(), list)
        assert isinstance(idle.list_collections(), list)
    finally:
        fresh.close()
        idle.close()
