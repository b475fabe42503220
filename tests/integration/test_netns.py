"""A worker on "another host" -- a second network namespace with its own address, joined to this
one by a veth pair -- against the same Redis and Milvus joins the consumer group and shares the work.

Needs root and iproute2 (`ip netns`); skipped otherwise. Everything it creates is removed.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.settings import Settings
from facestream import server_probes, servers
from ingest.grabber import Grabber
from workers import keys
from workers.bus import RedisStreamBus

pytestmark = [
    pytest.mark.slow,
    pytest.mark.needs(
        os.geteuid() == 0 and shutil.which("ip"), reason="root and iproute2 (ip netns)"
    ),
]
FRAMES = 40


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


@pytest.fixture
def netns() -> Iterator[tuple[str, str, str]]:
    """(namespace, host address, namespace address)."""
    tag = f"{os.getpid() % 100000}"
    ns, host_if, ns_if = f"fs-test-{tag}", f"fsh{tag}", f"fsn{tag}"
    net = f"10.251.{random.randint(1, 250)}"
    host_addr, ns_addr = f"{net}.1", f"{net}.2"
    try:
        _ip("netns", "add", ns)
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("netns", "exec", ns, "ip", "addr", "add", f"{ns_addr}/30", "dev", ns_if)
        _ip("netns", "exec", ns, "ip", "link", "set", ns_if, "up")
        _ip("netns", "exec", ns, "ip", "link", "set", "lo", "up")
        yield ns, host_addr, ns_addr
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


@pytest.fixture
def shared_servers(netns, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A password-protected Valkey and a milvus-lite listening on the host side of the veth pair."""
    _ns, host_addr, _ = netns
    password = "netns-test-pw-1234"
    conf = tmp_path / "redis.conf"
    servers.write_private(conf, f"requirepass {password}\n")
    rport, mport = servers.free_port(), servers.free_port()
    (tmp_path / "rdata").mkdir()
    procs = [
        subprocess.Popen(
            [
                servers.redis_binary(),
                str(conf),
                "--bind",
                host_addr,
                "--port",
                str(rport),
                "--dir",
                str(tmp_path / "rdata"),
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [
                *servers.milvus_command(),
                "server",
                "--data-dir",
                str(tmp_path / "milvus"),
                "--host",
                host_addr,
                "--port",
                str(mport),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ),
    ]
    redis_url, milvus_uri = (
        f"redis://:{password}@{host_addr}:{rport}/0",
        f"http://{host_addr}:{mport}",
    )
    try:
        deadline = time.monotonic() + 60
        while not (server_probes.redis_ready(redis_url) and _milvus_ready(milvus_uri)):
            assert time.monotonic() < deadline, "test servers did not start"
            assert all(p.poll() is None for p in procs), "a test server exited"
            time.sleep(0.2)
        yield redis_url, milvus_uri
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=20)


def test_worker_in_another_namespace_joins_the_group_and_shares_the_work(
    netns, shared_servers, examples_dir, tmp_path
) -> None:
    ns, _host_addr, ns_addr = netns
    redis_url, milvus_uri = shared_servers
    client = redis.Redis.from_url(redis_url)
    settings = Settings(
        data_dir=tmp_path / "data",
        redis_url=redis_url,
        milvus_uri=milvus_uri,
        max_in_flight_frames=1000,
    )
    # the remote host reaches Milvus too
    probe = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            sys.executable,
            "-c",
            f"from pymilvus import MilvusClient; print(MilvusClient(uri={milvus_uri!r}).list_collections())",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    # 40 frames of the clip on fs:frames:stage, then one detector here and one "on the other host"
    source = tmp_path / "clip.mp4"
    shutil.copy(examples_dir / "hamilton_360p.mp4", source)
    grabber = Grabber(client, RedisStreamBus(client), "stage", str(source), settings)
    _publish_first_frames(grabber, FRAMES)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env.update(
        FACESTREAM_TORCH_THREADS="1", FACESTREAM_BUS_READ_COUNT="1", FACESTREAM_BUS_HEALTH_TTL_S="5"
    )
    cmd = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(tmp_path / "data"),
        "--redis-url",
        redis_url,
        "--milvus-uri",
        milvus_uri,
        "worker",
        "detect",
    ]
    logs = [open(tmp_path / f"w{i}.log", "wb") for i in range(2)]
    workers = [
        subprocess.Popen(cmd, env=env, stdout=logs[0], stderr=subprocess.STDOUT),
        subprocess.Popen(
            ["ip", "netns", "exec", ns, *cmd], env=env, stdout=logs[1], stderr=subprocess.STDOUT
        ),
    ]
    try:
        stream = keys.frames("stage")
        deadline = time.monotonic() + 300
        while True:
            groups = client.xinfo_groups(stream)
            if (
                groups
                and groups[0]["lag"] == 0
                and groups[0]["pending"] == 0
                and len(_stats(client)) == 2
                and sum(_stats(client).values()) >= FRAMES
            ):
                break
            assert all(w.poll() is None for w in workers), (tmp_path / "w1.log").read_text()[-2000:]
            assert time.monotonic() < deadline, f"not done: {groups}, {_stats(client)}"
            time.sleep(0.5)
        addrs = {c["addr"].rsplit(":", 1)[0] for c in client.client_list()}
        assert ns_addr in addrs, addrs  # the second worker really connects from the other address
        consumers = client.xinfo_consumers(stream, keys.GROUP_DETECT)
        assert len(consumers) == 2
        processed = _stats(client)
        assert all(n > 0 for n in processed.values()), processed  # both shared the work
        assert sum(processed.values()) >= FRAMES
        assert client.xlen(keys.DETECTED) >= FRAMES
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
        for fh in logs:
            fh.close()


def _milvus_ready(uri: str) -> bool:
    from facestream.server_probes import open_milvus_client

    try:
        client = open_milvus_client(uri, timeout=3)
        client.list_collections()
        client.close()
    except Exception:  # noqa: BLE001 - not up yet
        return False
    return True


def _stats(client: redis.Redis) -> dict[str, int]:
    return {
        k.decode(): int(client.hget(k, "processed") or 0)
        for k in client.scan_iter(match="fs:stats:detect:*")
    }


def _publish_first_frames(grabber: Grabber, n: int) -> None:
    """Run the real grabber, stopping it once ``n`` frames are on the stream."""
    import threading

    def stopper() -> None:
        while grabber.stats.published < n and not grabber.stop.is_set():
            time.sleep(0.005)
        grabber.stop.set()

    t = threading.Thread(target=stopper, daemon=True)
    t.start()
    grabber.run()
    t.join()
