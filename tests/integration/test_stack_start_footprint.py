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
