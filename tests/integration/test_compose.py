"""docker-compose.yml validates with `docker compose config` (or the standalone `docker-compose`),
with a replica count and a health check for every facestream role, and Redis never without a password.

`make test` installs Debian's docker-compose where neither is present (.ci/system-deps)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = {
    "detector": "detect",
    "tracker": "track",
    "embedder": "embed",
    "matcher": "match",
    "cameras": "ingest",
}


def _compose() -> list[str]:
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0
    ):
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail(
        "neither `docker compose` nor `docker-compose` is installed: run `make test` "
        "(it installs Debian's docker-compose) or install one of them"
    )


def _config(**env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if k not in ("REDIS_PASSWORD", "DETECTORS", "EMBEDDERS")
    }
    return subprocess.run(
        [*_compose(), "-f", str(ROOT / "docker-compose.yml"), "config"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**clean, **env},
        timeout=60,
    )


def test_compose_file_validates_with_replicas_and_health_checks() -> None:
    done = _config(REDIS_PASSWORD="0123abcd", DETECTORS="3", EMBEDDERS="2")
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load(done.stdout)
    services = spec["services"]
    assert {"redis", "etcd", "minio", "milvus", *ROLES} <= set(services)
    replicas = {name: int(services[name]["deploy"]["replicas"]) for name in ROLES}
    assert replicas == {"detector": 3, "tracker": 1, "embedder": 2, "matcher": 1, "cameras": 1}
    for name, kind in ROLES.items():
        test = services[name]["healthcheck"]["test"]
        assert test[-3:] == ["worker", kind, "--check"], (name, test)
        env = services[name]["environment"]
        assert env["FACESTREAM_REDIS_URL"] == "redis://:0123abcd@redis:6379/0"
        targets = [
            m["target"] if isinstance(m, dict) else str(m).split(":")[1]
            for m in services[name]["volumes"]
        ]
        assert "/data" in targets, (name, targets)
    redis_cmd = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in redis_cmd and "--requirepass" in redis_cmd
    assert "ports" not in services["redis"]  # Redis is reachable only inside the compose network
    for name in ("redis", "milvus", *ROLES):
        assert "healthcheck" in services[name], name


def test_compose_refuses_to_run_redis_without_a_password() -> None:
    done = _config()
    assert done.returncode != 0
    assert "REDIS_PASSWORD" in done.stderr


def test_compose_runs_the_api_with_a_health_check_on_the_loopback_only() -> None:
    done = _config(REDIS_PASSWORD="0123abcd")
    assert done.returncode == 0, done.stderr
    api = yaml.safe_load(done.stdout)["services"]["api"]
    assert api["command"][:2] == ["facestream", "serve"]
    assert "/v1/health" in " ".join(api["healthcheck"]["test"])
    (port,) = api["ports"]
    if isinstance(port, str):  # docker-compose v1 prints the short form
        assert port.startswith("127.0.0.1:"), port
        assert port.split(":")[-1].split("/")[0] == "8080", port
    else:
        assert port["host_ip"] == "127.0.0.1" and int(port["target"]) == 8080
