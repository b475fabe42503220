"""Health keys -> `facestream worker KIND --check` exit codes, and the states status shows."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

from workers import health, keys


def _key(client, kind: str, pid: int, host: str | None = None, ttl: int = 15) -> str:
    host = host or socket.gethostname()
    consumer = f"{host}-{pid}"
    client.set(
        keys.health(kind, consumer),
        json.dumps({"pid": pid, "host": host, "kind": kind, "time": time.time()}),
        ex=ttl,
    )
    return consumer


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_worker_states_alive_dead_and_other_hosts(redis_client) -> None:
    alive = _key(redis_client, "detect", os.getpid())
    dead = _key(redis_client, "detect", _dead_pid())
    remote = _key(redis_client, "embed", 1, host="other-host")
    states = {w["consumer"]: w["state"] for w in health.workers(redis_client)}
    assert states == {alive: "alive", dead: "dead", remote: "alive"}
    assert health.check(redis_client, "detect")[0]
    assert not health.check(redis_client, "embed")[0]  # only on another host
    assert health.check(redis_client, "embed", any_host=True)[0]
    assert not health.check(redis_client, "match", any_host=True)[0]


def _check(stack, tmp_path, kind: str, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(tmp_path),
            "--redis-url",
            stack.redis_url,
            "--milvus-uri",
            stack.milvus_uri,
            "worker",
            kind,
            "--check",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_check_exit_codes(stack, redis_client, tmp_path) -> None:
    _key(redis_client, "track", os.getpid())  # this test process plays a live tracker on this host
    _key(
        redis_client, "match", _dead_pid()
    )  # a matcher killed with SIGKILL whose key has not expired
    ok, dead, none = (_check(stack, tmp_path, k) for k in ("track", "match", "embed"))
    assert ok.returncode == 0, ok.stderr
    assert "1 track worker(s) alive" in ok.stdout
    assert dead.returncode == 1 and "(dead)" in dead.stderr
    assert none.returncode == 1 and "no embed worker" in none.stderr


def test_check_without_any_server_is_unhealthy_not_a_crash(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(tmp_path),
            "worker",
            "detect",
            "--check",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert done.returncode == 1
    assert "no embedded redis is running" in done.stderr
    assert not (tmp_path / "redis").exists()  # a check never starts servers
