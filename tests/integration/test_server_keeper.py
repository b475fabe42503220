"""The embedded servers a command started are restarted in place after a SIGKILL.

Real Valkey and milvus-lite processes in a private data dir; the kill is a real SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from facestream import server_probes, servers
from facestream.stack import EmbeddedStack
from tests.support.rtsp import wait_for


def _by_name(stack: EmbeddedStack, name: str) -> servers.Server:
    return next(s for s in stack.started if s.name == name)


@pytest.fixture
def own_stack(tmp_path: Path):
    lines: list[str] = []
    stack = EmbeddedStack(
        Settings(data_dir=tmp_path / "data", redis_url=None, milvus_uri=None), notify=lines.append
    )
    endpoints = stack.start()
    try:
        yield stack, endpoints, lines
    finally:
        stack.stop()


def test_killed_redis_comes_back_on_its_port_with_its_data(own_stack, tmp_path: Path) -> None:
    stack, endpoints, lines = own_stack
    client = redis.Redis.from_url(endpoints.redis_url, socket_timeout=2)
    client.set("kept", "yes")
    time.sleep(1.5)  # appendfsync everysec: on disk within a second
    before = _by_name(stack, "redis")
    os.kill(before.pid, signal.SIGKILL)
    assert wait_for(lambda: any("Redis died; restarted" in line for line in lines), 30), lines
    after = _by_name(stack, "redis")
    assert after.pid != before.pid and after.port == before.port and after.url == before.url
    assert client.get("kept") == b"yes"  # the same client reconnects: same URL, same password
    record = json.loads((tmp_path / "data" / "stack" / "redis.json").read_text())
    assert record["pid"] == after.pid, "other commands must find the new server"
    assert len(lines) == 1, lines  # said once


def test_killed_milvus_comes_back_on_its_socket_with_its_data(own_stack) -> None:
    stack, endpoints, lines = own_stack
    client = server_probes.open_milvus_client(endpoints.milvus_uri)
    client.create_collection("kept", dimension=4)
    client.insert("kept", [{"id": 1, "vector": [0.5, 0.5, 0.5, 0.5]}])
    before = _by_name(stack, "milvus")
    os.kill(before.pid, signal.SIGKILL)
    assert wait_for(lambda: any("Milvus (milvus-lite) died" in line for line in lines), 120), lines
    after = _by_name(stack, "milvus")
    assert after.pid != before.pid and after.url == before.url
    client.load_collection("kept")  # a restarted milvus-lite has its collections released
    assert [r["id"] for r in client.query("kept", filter="id >= 0")] == [1]
    client.close()


def test_stop_stops_the_restarted_servers_and_nothing_is_restarted_after(tmp_path: Path) -> None:
    stack = EmbeddedStack(Settings(data_dir=tmp_path / "data", redis_url=None, milvus_uri=None))
    stack.start()
    first = _by_name(stack, "redis")
    os.kill(first.pid, signal.SIGKILL)
    assert wait_for(lambda: _by_name(stack, "redis").pid != first.pid, 30)
    pids = [s.pid for s in stack.started]
    stack.stop()
    time.sleep(1.5)  # a keeper still checking would have started them again by now
    assert not any(servers.pid_alive(pid) for pid in pids)
    assert not (tmp_path / "data" / "stack" / "redis.json").exists()


def test_the_supervised_keeper_of_up_restarts_a_killed_server_and_leaves_it_running(
    tmp_path: Path,
) -> None:
    """What `up` does: servers started and left running, `keep_servers` under supervisord."""
    data_dir = tmp_path / "data"
    stack = EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None))
    endpoints = stack.start()
    first = _by_name(stack, "redis")
    stack.detach()
    log = open(tmp_path / "keeper.log", "w")
    keeper = subprocess.Popen(
        [sys.executable, "-m", "facestream.keep_servers", str(data_dir)], stderr=log
    )
    record = data_dir / "stack" / "redis.json"
    try:
        time.sleep(2)  # it has read the records
        os.kill(first.pid, signal.SIGKILL)
        assert wait_for(lambda: json.loads(record.read_text())["pid"] != first.pid, 30), (
            tmp_path / "keeper.log"
        ).read_text()
        client = redis.Redis.from_url(endpoints.redis_url, socket_timeout=2)
        assert wait_for(lambda: client.ping(), 10)
        assert client.connection_pool.connection_kwargs["port"] == first.port
        keeper.send_signal(signal.SIGTERM)
        assert keeper.wait(15) == 0
        assert client.ping(), "stopping the keeper must not stop the servers (`down` does)"
    finally:
        if keeper.poll() is None:
            keeper.kill()
        EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)).stop_recorded()
    assert "restarted" in (tmp_path / "keeper.log").read_text()
