"""One camera-name rule for `run --camera`, `ingest --camera`, `cameras add` and cameras.toml.

A name becomes part of Redis keys, stream names and Prometheus labels; the four ways of naming
a camera used to disagree (`cameras add 'cam#1'` was accepted, `run --camera 'cam#1'` refused).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.cameras import check_name, load_cameras
from config.errors import ConfigError
from config.settings import Settings
from workers import keys

BAD = ["cam#1", "cam 1", "door:1", "a*b", "cam/1", "", "x" * 65, "cam\n", "café", "{x}"]
GOOD = ["door", "cam-1", "lobby_2.east", "x" * 64, "0"]
MESSAGE = "camera name: expected 1-64 of [A-Za-z0-9_.-], got 'cam#1'"


@pytest.mark.parametrize("name", BAD)
def test_rule_refuses(name: str) -> None:
    with pytest.raises(ConfigError, match="camera name"):
        check_name(name)


@pytest.mark.parametrize("name", GOOD)
def test_rule_accepts(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["cam#1", "cam 1", "cam\n"])
def test_cameras_toml_applies_the_same_rule(tmp_path: Path, name: str) -> None:
    path = tmp_path / "cameras.toml"
    quoted = name.replace("\n", "\\n")
    path.write_text(f'[cameras."{quoted}"]\nurl = "rtsp://cam/1"\n')
    with pytest.raises(ConfigError, match="camera name"):
        load_cameras(path, Settings())


def _cli(stack, data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    cmd = [
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
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)


def test_run_ingest_and_cameras_add_refuse_the_same_name_with_the_same_message(
    stack, redis_client, tmp_path: Path
) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not read: the name is checked first")
    runs = {
        "run": _cli(stack, tmp_path, "run", str(clip), "--camera", "cam#1"),
        "ingest": _cli(stack, tmp_path, "ingest", str(clip), "--camera", "cam#1"),
        "cameras add": _cli(stack, tmp_path, "cameras", "add", "cam#1", "rtsp://127.0.0.1:9/s1"),
    }
    for what, done in runs.items():
        assert done.returncode == 2, (
            f"{what}: expected exit 2, got {done.returncode}\n{done.stderr}"
        )
        assert MESSAGE in " ".join(done.stderr.split()), f"{what}: {done.stderr}"
        assert "Traceback" not in done.stderr
    assert not redis_client.hgetall(keys.CAMERA_SOURCES)  # nothing was added
    added = _cli(stack, tmp_path, "cameras", "add", "cam-1", "rtsp://127.0.0.1:9/s1")
    assert added.returncode == 0, added.stderr
    assert redis_client.hkeys(keys.CAMERA_SOURCES) == [b"cam-1"]
