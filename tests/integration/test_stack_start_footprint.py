"""The embedded stack starts its two servers side by side, and reusing them costs little."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config.errors import StackError
from config.settings import Settings
from facestream import servers
from facestream.stack import EmbeddedStack
from tests.unit.test_import_footprint import loaded_after


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)


def test_a_command_that_reuses_the_stack_loads_no_pymilvus(tmp_path: Path) -> None:
    with EmbeddedStack(_settings(tmp_path)) as endpoints:
        code = (
            "from config.settings import Settings\n"
            "from facestream.stack import EmbeddedStack\n"
            f"s = Settings(data_dir={str(tmp_path)!r}, redis_url=None, milvus_uri=None)\n"
            "stack = EmbeddedStack(s)\n"
            "ep = stack.start()\n"
            "assert stack.started == (), stack.started\n"
            f"assert ep.milvus_uri == {endpoints.milvus_uri!r}, ep\n"
        )
        assert "pymilvus" not in loaded_after(code)


def test_a_failed_redis_start_stops_the_milvus_started_beside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_redis() -> str:
        raise StackError("no Redis server binary (test)")

    monkeypatch.setattr(servers, "redis_binary", no_redis)
    stack = EmbeddedStack(_settings(tmp_path))
    with pytest.raises(StackError, match="no Redis server binary"):
        stack.start()
    assert stack.started == ()
    assert not (tmp_path / "stack" / "milvus.json").exists()
    log = (tmp_path / "logs" / "milvus.log").read_text(errors="replace")
    assert log, "milvus-lite was started beside Redis and logged"


def test_both_servers_start_and_stop_together(tmp_path: Path) -> None:
    stack = EmbeddedStack(_settings(tmp_path))
    with stack:
        pids = {s.name: s.pid for s in stack.started}
        assert set(pids) == {"redis", "milvus"}
        for name, pid in pids.items():
            assert json.loads((tmp_path / "stack" / f"{name}.json").read_text())["pid"] == pid
    assert not any(servers.pid_alive(pid) for pid in pids.values())


def test_milvus_later_gives_redis_at_once_and_milvus_once_waited_for(tmp_path: Path) -> None:
    stack = EmbeddedStack(_settings(tmp_path), milvus_later=True)
    with stack as endpoints:
        assert endpoints.milvus_uri == servers.milvus_socket_url(tmp_path)
        stack.wait_milvus()
        names = {s.name for s in stack.started}
        assert names == {"redis", "milvus"}
        milvus = next(s for s in stack.started if s.name == "milvus")
        assert milvus.url == endpoints.milvus_uri and servers.milvus_answers(milvus)
        pids = [s.pid for s in stack.started]
    assert not any(servers.pid_alive(pid) for pid in pids)


def test_milvus_later_says_when_milvus_cannot_start_and_stops_redis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_milvus() -> list[str]:
        raise StackError("no milvus-lite server (test)")

    monkeypatch.setattr(servers, "milvus_command", no_milvus)
    stack = EmbeddedStack(_settings(tmp_path), milvus_later=True)
    stack.start()  # Redis answers; milvus-lite fails in the background
    redis_pid = next(s.pid for s in stack.started if s.name == "redis")
    with pytest.raises(StackError, match="no milvus-lite server"):
        stack.wait_milvus()
    stack.stop()
    assert stack.started == () and not servers.pid_alive(redis_pid)


def test_a_stop_before_milvus_answers_stops_it_too(tmp_path: Path) -> None:
    stack = EmbeddedStack(_settings(tmp_path), milvus_later=True)
    stack.start()
    stack.stop()  # milvus-lite still coming up: waited for, then stopped
    assert stack.started == ()
    assert not (tmp_path / "stack" / "milvus.json").exists()
    assert not (tmp_path / "stack" / "redis.json").exists()
