"""Camera credentials in query parameters never leave Redis's source list (real CLI, real Redis).

Cameras whose URLs carry secrets as userinfo and as ``pwd``/``APIKEY``/``Sig``/``token`` query
parameters are added with `cameras add`, grabbed by `cameras serve` (the sources refuse the
connection, so it logs and retries), listed with `cameras` and `status`; then the CLI's output,
the grabber's log file, every Redis key and the /metrics page are searched for the secrets. The
only place they may be is ``fs:camera-sources``, which the grabber reads them from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

from workers import keys

SECRETS = {
    "pwd": "PwdSecret4821q",
    "apikey": "ApiKeySecret7731",
    "userinfo": "UserInfoSecret5519",
    "sig": "SigSecret2290z",
    "token": "TokenSecret6604",
}
CAMERAS = {
    "door": f"rtsp://127.0.0.1:9/s1?user=admin&pwd={SECRETS['pwd']}",
    "lobby": f"http://127.0.0.1:9/video.mjpg?APIKEY={SECRETS['apikey']}&res=720",
    "yard": f"rtsp://viewer:{SECRETS['userinfo']}@127.0.0.1:9/s2"
    f"?Sig={SECRETS['sig']}&token={SECRETS['token']}",
}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    # wide enough that rich never folds a URL: a secret split across two lines hides from a search
    return {**env, "FACESTREAM_BUS_HEALTH_TTL_S": "3", "COLUMNS": "400"}


def _cmd(stack, data_dir: Path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(data_dir),
        "--redis-url",
        stack.redis_url,
        "--milvus-uri",
        stack.milvus_uri,
        *args,
    ]


def _cli(stack, data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        _cmd(stack, data_dir, *args), capture_output=True, text=True, timeout=120, env=_env()
    )
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr}"
    return done.stdout + done.stderr


def _values(client: redis.Redis) -> dict[str, bytes]:
    """Every key's value as bytes: read by type (what a reader sees) and DUMPed (what is stored)."""
    out = {}
    for key in client.scan_iter(count=500):
        kind = client.type(key).decode()
        if kind == "string":
            value = client.get(key)
        elif kind == "hash":
            value = repr(client.hgetall(key))
        elif kind == "stream":
            value = repr(client.xrange(key))
        elif kind == "set":
            value = repr(client.smembers(key))
        elif kind == "list":
            value = repr(client.lrange(key, 0, -1))
        elif kind == "zset":
            value = repr(client.zrange(key, 0, -1, withscores=True))
        else:
            value = f"unread type {kind}"
        value = value if isinstance(value, bytes) else str(value).encode()
        out[key.decode()] = value + b"\n" + (client.dump(key) or b"")
    return out


def _leaks(text: str) -> list[str]:
    return [name for name, secret in SECRETS.items() if secret in text]


def test_query_and_userinfo_secrets_reach_no_output_log_key_or_metric(
    stack, redis_client, tmp_path
) -> None:
    shown = [_cli(stack, tmp_path, "cameras", "add", name, url) for name, url in CAMERAS.items()]
    assert all("added camera" in s for s in shown), shown
    log_path = tmp_path / "logs" / "cameras.log"
    log_path.parent.mkdir()
    with log_path.open("w") as log_file:
        serve = subprocess.Popen(
            _cmd(stack, tmp_path, "cameras", "serve"),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=_env(),
        )
    try:
        deadline = time.monotonic() + 90
        ingest: list[dict] = []
        while time.monotonic() < deadline:
            ingest = [
                json.loads(redis_client.get(k))
                for k in redis_client.scan_iter(match="fs:health:ingest:*")
            ]
            states = [redis_client.hget(keys.camera_info(name), "state") for name in CAMERAS]
            sources = [redis_client.hget(keys.camera_info(name), "source") for name in CAMERAS]
            if ingest and all(states) and all(sources) and "camera door" in log_path.read_text():
                break
            time.sleep(0.3)
        assert ingest and ingest[0].get("metrics"), f"no ingest health key with metrics: {ingest}"
        assert all(states) and all(sources), (
            f"cameras not registered: states {states}, sources {sources}"
        )
        time.sleep(2)  # a reconnect attempt or two more in the log
        scraped = (
            urllib.request.urlopen(f"http://{ingest[0]['metrics']}/metrics", timeout=5)
            .read()
            .decode()
        )
        assert "facestream_" in scraped
        shown += [
            _cli(stack, tmp_path, "cameras"),
            _cli(stack, tmp_path, "status"),
            _cli(stack, tmp_path, "status", "--json"),
        ]
        stored = _values(redis_client)
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    log_text = log_path.read_text()
    for i, text in enumerate(shown):
        assert not _leaks(text), f"CLI output {i} shows {_leaks(text)}:\n{text[-3000:]}"
    assert not _leaks(log_text), f"the grabber's log shows {_leaks(log_text)}:\n{log_text[-3000:]}"
    assert not _leaks(scraped), f"/metrics shows {_leaks(scraped)}"
    holders = {key for key, value in stored.items() if _leaks(value.decode("latin-1"))}
    # camera URLs are sealed at rest (facestream/camera_urls.py): no key holds them in clear
    assert not holders, f"secrets stored in clear under {sorted(holders)}"
    for path in tmp_path.rglob("*"):  # the data dir: logs, records, anything written there
        if path.is_file():
            assert not _leaks(path.read_text(errors="replace")), f"{path} holds a secret"
    # and what is shown is still useful: the URLs, masked
    assert "camera door" in log_text and "pwd=***" in log_text, log_text[-3000:]
    assert "rtsp://***@127.0.0.1:9/s2?Sig=***&token=***" in shown[2], shown[2]
    assert "http://127.0.0.1:9/video.mjpg?APIKEY=***&res=720" in shown[3], shown[
        3
    ]  # the `cameras` table
