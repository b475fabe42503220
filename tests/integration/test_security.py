"""Locking it down: the embedded server's bind address and password, and secrets kept out of
logs, status output, metrics, health keys and error messages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from config.settings import Settings
from facestream.stack import EmbeddedStack

REDIS_SECRET = "RedisSecret789xyz"
CAMERA_SECRET = "CamSecret123abc"
MILVUS_SECRET = "MilvusTok456def"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_embedded_redis_listens_on_loopback_with_a_generated_0600_password(
    stack, tmp_path: Path
) -> None:
    emb = EmbeddedStack(Settings(data_dir=tmp_path, redis_url=None, milvus_uri=stack.milvus_uri))
    endpoints = emb.start()
    try:
        password_file = tmp_path / "stack" / "redis.password"
        password = password_file.read_text().strip()
        assert len(password) >= 24
        assert _mode(password_file) == 0o600
        assert _mode(tmp_path / "stack" / "redis.conf") == 0o600
        parts = urlsplit(endpoints.redis_url)
        assert parts.hostname == "127.0.0.1" and parts.password == password
        # without the password: refused
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=parts.port).ping()
        client = redis.Redis.from_url(endpoints.redis_url)
        assert client.config_get("bind")["bind"].split() == ["127.0.0.1"]
        assert client.config_get("protected-mode") == {"protected-mode": "yes"}
        # the password is neither on the command line (readable by every local user) nor in the record
        server = emb.started[0]
        assert password not in Path(f"/proc/{server.pid}/cmdline").read_bytes().decode(
            errors="replace"
        )
        assert password not in (tmp_path / "stack" / "redis.json").read_text()
        client.close()
    finally:
        emb.stop()
    # a restart reuses the same password file
    again = EmbeddedStack(Settings(data_dir=tmp_path, redis_url=None, milvus_uri=stack.milvus_uri))
    try:
        assert urlsplit(again.start().redis_url).password == password
    finally:
        again.stop()


def _cli(
    data_dir: Path,
    redis_url: str,
    milvus_uri: str,
    *args: str,
    env_extra: dict | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env.update(env_extra or {})
    cmd = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(data_dir),
        "--redis-url",
        redis_url,
        "--milvus-uri",
        milvus_uri,
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def acl_url(stack, redis_client) -> str:
    """An ACL user with its own password on the test server."""
    redis_client.acl_setuser(
        "fsuser",
        enabled=True,
        passwords=[f"+{REDIS_SECRET}"],
        keys=["*"],
        channels=["*"],
        commands=["+@all"],
    )
    parts = urlsplit(stack.redis_url)
    yield f"redis://fsuser:{REDIS_SECRET}@127.0.0.1:{parts.port}/0"
    redis_client.acl_deluser("fsuser")


def _assert_clean(*texts: str) -> None:
    for text in texts:
        for secret in (REDIS_SECRET, CAMERA_SECRET, MILVUS_SECRET):
            assert secret not in text, f"secret {secret[:4]}... leaked in:\n{text[-2000:]}"


def test_secrets_never_reach_logs_status_metrics_health_keys_or_errors(
    stack, redis_client, acl_url, tmp_path
) -> None:
    env = {"FACESTREAM_MILVUS_TOKEN": MILVUS_SECRET, "FACESTREAM_BUS_HEALTH_TTL_S": "3"}
    camera_url = f"rtsp://admin:{CAMERA_SECRET}@127.0.0.1:9/stream"
    added = _cli(
        tmp_path, acl_url, stack.milvus_uri, "cameras", "add", "door", camera_url, env_extra=env
    )
    assert added.returncode == 0, added.stderr
    assert (
        CAMERA_SECRET not in redis_client.hget("fs:camera-sources", "door").decode()
    )  # sealed in Redis
    # a camera grabber (fails to connect: logs an error naming the camera) and a worker with metrics
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facestream",
                "--data-dir",
                str(tmp_path),
                "--redis-url",
                acl_url,
                "--milvus-uri",
                stack.milvus_uri,
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**{k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}, **env},
        )
        for args in (["cameras", "serve"], ["worker", "match"])
    ]
    try:
        deadline = time.monotonic() + 60
        workers = []
        while time.monotonic() < deadline:
            workers = [
                json.loads(redis_client.get(k)) for k in redis_client.scan_iter(match="fs:health:*")
            ]
            failed = redis_client.hget("fs:camera:door", "state")
            if {w["kind"] for w in workers} >= {"ingest", "match"} and failed == b"failed":
                break
            time.sleep(0.3)
        assert {w["kind"] for w in workers} >= {"ingest", "match"}, workers
        assert all(w.get("metrics") for w in workers), workers
        scraped = "".join(
            urllib.request.urlopen(f"http://{w['metrics']}/metrics", timeout=5).read().decode()
            for w in workers
        )
        assert "facestream_frames_total" in scraped or "facestream_ingest_frames_total" in scraped
        status = _cli(tmp_path, acl_url, stack.milvus_uri, "status", env_extra=env)
        status_json = _cli(tmp_path, acl_url, stack.milvus_uri, "status", "--json", env_extra=env)
        assert status.returncode == 0 and status_json.returncode == 0, (
            status.stderr + status_json.stderr
        )
        assert "rtsp://***@127.0.0.1:9/stream" in status.stdout
        listed = _cli(tmp_path, acl_url, stack.milvus_uri, "cameras", env_extra=env)
        # errors: a wrong password, an unreachable TLS server
        wrong = _cli(
            tmp_path, acl_url.replace(REDIS_SECRET, REDIS_SECRET + "x"), stack.milvus_uri, "status"
        )
        unreachable = _cli(
            tmp_path, f"rediss://fsuser:{REDIS_SECRET}@127.0.0.1:9/0", stack.milvus_uri, "status"
        )
        assert wrong.returncode == 2 and unreachable.returncode == 2
        assert (
            "redis://***@127.0.0.1" in wrong.stderr
            and "rediss://***@127.0.0.1:9/0" in unreachable.stderr
        )
        keys_dump = str(
            [redis_client.hgetall(k) for k in redis_client.scan_iter(match="fs:camera:*")]
        )
        health_dump = json.dumps(workers)
    finally:
        for p in procs:
            p.terminate()
        logs = [p.communicate(timeout=30)[0] for p in procs]
    assert "camera door" in logs[0] and "rtsp://***@127.0.0.1:9/stream" in logs[0], logs[0][-2000:]
    _assert_clean(
        added.stdout,
        added.stderr,
        status.stdout,
        status.stderr,
        status_json.stdout,
        listed.stdout,
        wrong.stderr,
        unreachable.stderr,
        scraped,
        keys_dump,
        health_dump,
        *logs,
    )
    data_files = "".join(p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file())
    _assert_clean(data_files)


def test_redaction_scrubs_urls_and_registered_secrets_from_log_records(caplog) -> None:
    import logging

    from config import redact

    redact.register("s3cr3t-token")
    record = logging.LogRecord(
        "x",
        logging.ERROR,
        __file__,
        1,
        "connect %s with %s failed: %s",
        ("redis://u:pw1234@h:6379/0", "s3cr3t-token", "http://h/?token=abcdef&x=1"),
        None,
    )
    assert redact.SecretFilter().filter(record)
    assert (
        record.getMessage()
        == "connect redis://***@h:6379/0 with *** failed: http://h/?token=***&x=1"
    )
