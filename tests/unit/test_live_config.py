"""Backoff, camera configs, URL redaction and live detection: pure code."""

from __future__ import annotations

import random

import pytest

from config.cameras import CameraPolicy, load_cameras
from config.errors import ConfigError
from config.redact import redact_url
from config.settings import Settings
from ingest.sources import is_live
from workers.backoff import Backoff


def test_backoff_doubles_up_to_the_cap_with_bounded_jitter() -> None:
    b = Backoff(0.5, 3.0, jitter=0.2, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    for got, base in zip(delays, [0.5, 1, 2, 3, 3, 3, 3, 3], strict=True):
        assert 0.8 * base <= got <= 1.2 * base
    b.reset()
    assert b.next_delay() <= 0.6
    with pytest.raises(ConfigError):
        Backoff(5.0, 1.0)


def test_credentials_never_survive_redaction() -> None:
    assert redact_url("rtsp://admin:hunter2@10.0.0.7:554/s1") == "rtsp://***@10.0.0.7:554/s1"
    assert "hunter2" not in redact_url("http://cam/video.mjpg?user=a&password=hunter2&x=1")
    assert "tok3n" not in redact_url("https://cam/live.m3u8?token=tok3n")


@pytest.mark.parametrize(
    ("url", "live"),
    [
        ("0", True),
        ("rtsp://cam/s", True),
        ("http://cam/video.mjpg", True),
        ("https://cdn/live/index.m3u8", True),
        ("http://host/clip.mp4", False),
        ("clip.mp4", False),
        ("/data/x.mkv", False),
    ],
)
def test_live_is_guessed_from_the_url(url: str, live: bool) -> None:
    assert is_live(url) is live


def test_cameras_toml_with_defaults_and_per_camera_policy(tmp_path) -> None:
    path = tmp_path / "cameras.toml"
    path.write_text(
        '[defaults]\nstall_timeout_s = 7\n\n[cameras.door]\nurl = "rtsp://u:p@cam/1"\nmax_age_s = 0.5\n\n'
        '[cameras.lobby]\nurl = "http://cam2/video.mjpg"\nstall_timeout_s = 2\nlive = true\n'
    )
    door, lobby = load_cameras(path, Settings(live={"reconnect_max_s": 4}))
    assert (
        door.name,
        door.policy.stall_timeout_s,
        door.policy.max_age_s,
        door.policy.reconnect_max_s,
    ) == ("door", 7, 0.5, 4)
    assert (lobby.policy.stall_timeout_s, lobby.policy.live) == (2, True)
    assert CameraPolicy().resolved(Settings().live).rtsp_transport == "tcp"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('[cameras.door]\nurl = "x"\nstall_timout_s = 3\n', "stall_timout_s"),
        ('[cameras.door]\nurl = "x"\nmax_age_s = -1\n', "max_age_s"),
        ('[cameras."bad name"]\nurl = "x"\n', "camera name"),
        ('[camera.door]\nurl = "x"\n', "[cameras.NAME]"),
        ("[cameras.door]\nport = 1\n", "url"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_bad_cameras_files_name_the_problem(tmp_path, text: str, needle: str) -> None:
    path = tmp_path / "cameras.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as err:
        load_cameras(path, Settings())
    assert needle in str(err.value)
