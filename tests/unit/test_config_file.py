"""--config FILE: TOML settings under environment variables and command-line values."""

from __future__ import annotations

import pytest

from config.errors import ConfigError
from config.settings import (
    RENAMED_ENV,
    Settings,
    env_as_file,
    file_as_env,
    load_settings,
    settings_env,
)


def test_file_values_env_and_cli_precedence(tmp_path, monkeypatch) -> None:
    path = tmp_path / "fs.toml"
    path.write_text('milvus_token = "tok-secret"\n[embed]\nevery_n = 5\n[match]\ntop_k = 3\n')
    monkeypatch.delenv("FACESTREAM_EMBED_EVERY_N", raising=False)
    monkeypatch.setenv("FACESTREAM_MATCH_TOP_K", "7")
    s = load_settings(config_file=path, device="cpu")
    assert (s.embed.every_n, s.match.top_k, s.device) == (5, 7, "cpu")
    assert "tok-secret" not in repr(s)  # a SecretStr
    assert (
        settings_env(s)["FACESTREAM_MILVUS_TOKEN"] == "tok-secret"
    )  # revealed only for child processes


def test_unknown_keys_and_bad_values_are_named(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("embed_everyn = 5\n")
    with pytest.raises(ConfigError, match="embed_everyn"):
        load_settings(config_file=bad)
    bad.write_text("[detect]\nevery_n = 2\nevrey_n = 5\n")
    with pytest.raises(ConfigError, match=r"detect\.evrey_n"):
        load_settings(config_file=bad)
    bad.write_text("detect = 3\n")
    with pytest.raises(ConfigError, match=r"expected a \[detect\] table"):
        load_settings(config_file=bad)
    with pytest.raises(ConfigError, match="hidden"):
        load_settings(milvus_token=["not", "a", "string"])
    with pytest.raises(ConfigError, match="--config"):
        load_settings(config_file=tmp_path / "missing.toml")


def test_an_old_flat_key_names_its_new_place(tmp_path, monkeypatch) -> None:
    old = tmp_path / "old.toml"
    old.write_text("detect_every_n = 2\nclaim_idle_ms = 9000\n")
    with pytest.raises(
        ConfigError,
        match=r"claim_idle_ms -> \[bus\] claim_idle_ms.*"
        r"detect_every_n -> \[detect\] every_n",
    ):
        load_settings(config_file=old)
    with pytest.raises(ConfigError, match="detect.every_n"):
        load_settings(detect_every_n=2)
    monkeypatch.setenv("FACESTREAM_REORDER_WAIT_S", "1")
    with pytest.raises(
        ConfigError, match="FACESTREAM_REORDER_WAIT_S is now FACESTREAM_TRACK_REORDER_WAIT_S"
    ):
        load_settings()


def test_sections_from_env_file_and_overrides(tmp_path, monkeypatch) -> None:
    path = tmp_path / "fs.toml"
    path.write_text("[detect]\nevery_n = 2\nmin_face_px = 30\n[live]\nmax_age_s = 0.5\n")
    monkeypatch.setenv("FACESTREAM_DETECT_MIN_FACE_PX", "40")  # the environment beats the file
    monkeypatch.setenv("FACESTREAM_DATA_DIR", str(tmp_path))  # a top-level name with a '_' in it
    s = load_settings(config_file=path, **{"live.max_age_s": 2.0})
    assert (s.detect.every_n, s.detect.min_face_px, s.live.max_age_s) == (2, 40, 2.0)
    assert s.data_dir == tmp_path
    assert s.detect.max_side_px == 960  # the rest of the section keeps its defaults


def test_settings_env_round_trip(tmp_path, monkeypatch) -> None:
    for name in [k for k in __import__("os").environ if k.startswith("FACESTREAM_")]:
        monkeypatch.delenv(name)
    s = Settings(
        data_dir=tmp_path,
        milvus_token="tok",
        gpu_half=False,
        detect={"every_n": 3},
        track={"kind": "iou", "reid_min_similarity": 0.8},
        live={"rtsp_transport": "udp"},
        match={"unknown_below": 0.3},
        worker={"stop_timeout_s": 5.0},
    )
    env = settings_env(s)
    assert env["FACESTREAM_DETECT_EVERY_N"] == "3" and env["FACESTREAM_TRACK_KIND"] == "iou"
    assert not set(env) & set(RENAMED_ENV)  # children get the new names only
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings() == s
    assert file_as_env(env_as_file(env)) == env  # the supervisor's settings file holds the same
    assert env_as_file(env)["detect"]["every_n"] == "3"


def test_cross_field_checks() -> None:
    with pytest.raises(
        ConfigError,
        match=r"track.reorder_wait_file_s: expected more than "
        r"bus.claim_idle_ms",
    ):
        load_settings(**{"bus.claim_idle_ms": 80_000})
    with pytest.raises(ConfigError, match=r"live.reconnect_max_s: expected at least"):
        load_settings(live={"reconnect_initial_s": 5.0, "reconnect_max_s": 2.0})
    ok = load_settings(bus={"claim_idle_ms": 80_000}, track={"reorder_wait_file_s": 90})
    assert ok.bus.claim_idle_ms == 80_000
