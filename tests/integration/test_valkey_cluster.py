"""The test cluster itself (tests/support/valkey_cluster.py): it forms, it stops by PID leaving
nothing behind, and a node that cannot start is a clear error that leaves nothing either."""

from __future__ import annotations

import socket

import pytest

from config.errors import StackError
from facestream import servers
from tests.conftest import require
from tests.support import valkey_cluster as vc


@pytest.fixture(autouse=True)
def _binary() -> None:
    try:
        servers.redis_binary()
    except StackError as exc:
        require(False, str(exc))


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")  # a zombie has stopped
    except FileNotFoundError:
        return True


def test_three_masters_serve_every_slot_and_stop_without_a_trace(tmp_path) -> None:
    cluster = vc.start(root=tmp_path)
    pids = [n.proc.pid for n in cluster.nodes]
    try:
        with cluster.nodes[1].client() as client:
            shards = client.execute_command("CLUSTER", "SHARDS")
        assert len(shards) == 3, shards
        assert {cluster.master_of_slot(s) for s in (0, 8000, 16383)} == {
            n.port for n in cluster.nodes
        }
    finally:
        cluster.stop()
    assert all(_gone(pid) for pid in pids), pids
    assert not cluster.root.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_node_that_cannot_listen_is_a_clear_error(tmp_path, monkeypatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        real = vc._free_ports
        monkeypatch.setattr(vc, "_free_ports", lambda n: [busy, *real(n - 1)])
        with pytest.raises(vc.ClusterStartError, match=f"port {busy} exited with code"):
            vc.start(root=tmp_path)
    assert list(tmp_path.iterdir()) == []
