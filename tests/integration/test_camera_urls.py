"""Camera URLs in Redis are sealed with the data dir's key; only the camera manager opens them, and
a missing or different key is a clear error for that camera, never a crash (real Redis)."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from facestream import camera_urls, cameras
from facestream.camera_urls import CameraUrlError
from workers import keys

SECRET = "CamSealed741zxc"
URL = f"rtsp://admin:{SECRET}@10.0.0.7:554/stream1"


def test_sealed_in_redis_shown_redacted_opened_with_the_key(redis_client, tmp_path: Path) -> None:
    cameras.add(redis_client, "door", URL, tmp_path)
    stored = redis_client.hget(keys.CAMERA_SOURCES, "door").decode()
    assert SECRET not in stored and "10.0.0.7" not in stored.split('"sealed"')[1]
    assert cameras.sources(redis_client) == {"door": "rtsp://***@10.0.0.7:554/stream1"}
    key = camera_urls.key_path(tmp_path)
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert camera_urls.Opener(redis_client, tmp_path).urls() == {"door": URL}
    # a second camera reuses the key
    cameras.add(redis_client, "yard", "/videos/yard.mp4", tmp_path)
    assert camera_urls.Opener(redis_client, tmp_path).urls() == {
        "door": URL,
        "yard": "/videos/yard.mp4",
    }


@pytest.mark.parametrize("damage", ["missing", "replaced", "garbage"])
def test_a_key_that_cannot_open_the_url_fails_that_camera_with_a_clear_error(
    redis_client, tmp_path: Path, caplog, damage: str
) -> None:
    cameras.add(redis_client, "door", URL, tmp_path)
    key = camera_urls.key_path(tmp_path)
    if damage == "missing":
        key.unlink()
    elif damage == "replaced":
        key.write_bytes(Fernet.generate_key())
    else:
        key.write_text("not a key\n")
    with pytest.raises(CameraUrlError) as info:
        camera_urls.unseal(
            tmp_path, "door", redis_client.hget(keys.CAMERA_SOURCES, "door").decode()
        )
    message = str(info.value)
    assert str(key) in message and "camera door" in message
    assert "facestream cameras add door URL" in message or "add the cameras again" in message
    expected = {
        "missing": "got no such file",
        "replaced": "sealed with another key",
        "garbage": "expected a Fernet key",
    }[damage]
    assert expected in message
    assert SECRET not in message
    # the manager leaves the camera out, marks it failed and says so once
    opener = camera_urls.Opener(redis_client, tmp_path)
    with caplog.at_level(logging.ERROR, logger="facestream.camera_urls"):
        assert opener.urls() == {}
        assert opener.urls() == {}
    assert [r.getMessage() for r in caplog.records].count(message) == 1
    assert redis_client.hget(keys.camera_info("door"), "state") == b"failed"
    if damage != "garbage":  # adding it again (a new key where it was missing) opens it
        cameras.add(redis_client, "door", URL, tmp_path)
        assert camera_urls.Opener(redis_client, tmp_path).urls() == {"door": URL}


def test_a_url_stored_in_clear_by_an_older_version_is_sealed_in_place(
    redis_client, tmp_path: Path
) -> None:
    redis_client.hset(keys.CAMERA_SOURCES, "door", URL)
    assert cameras.sources(redis_client) == {"door": "rtsp://***@10.0.0.7:554/stream1"}
    assert camera_urls.Opener(redis_client, tmp_path).urls() == {"door": URL}
    assert SECRET not in redis_client.hget(keys.CAMERA_SOURCES, "door").decode()
    assert camera_urls.Opener(redis_client, tmp_path).urls() == {"door": URL}


def test_cli_cameras_add_seals_and_lists_redacted(stack, redis_client, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    base = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(tmp_path),
        "--redis-url",
        stack.redis_url,
        "--milvus-uri",
        stack.milvus_uri,
        "cameras",
    ]
    added = subprocess.run(
        [*base, "add", "door", URL],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert added.returncode == 0, added.stderr
    listed = subprocess.run(base, check=False, capture_output=True, text=True, timeout=60, env=env)
    assert listed.returncode == 0, listed.stderr
    assert (
        "rtsp://***@10.0.0.7:554/stream1" in listed.stdout
        and SECRET not in listed.stdout + added.stdout
    )
    assert SECRET not in redis_client.hget(keys.CAMERA_SOURCES, "door").decode()
    assert camera_urls.Opener(redis_client, tmp_path).urls() == {"door": URL}


def test_a_clear_url_with_an_unusable_key_file_still_runs(redis_client, tmp_path, caplog) -> None:
    key = camera_urls.key_path(tmp_path)
    key.parent.mkdir(parents=True)
    key.write_text("not a key\n")
    redis_client.hset(keys.CAMERA_SOURCES, "door", URL)
    opener = camera_urls.Opener(redis_client, tmp_path)
    with caplog.at_level(logging.ERROR, logger="facestream.camera_urls"):
        assert opener.urls() == {"door": URL}
        assert opener.urls() == {"door": URL}
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "cannot seal it" in said[0] and str(key) in said[0]
