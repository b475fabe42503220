"""--config FILE: TOML settings under environment variables and command-line values."""

from __future__ import annotations

import pytest

from config.errors import ConfigError
from config.settings import Settings, load_settings, settings_env


def test_file_values_env_and_cli_precedence(tmp_path, monkeypatch) -> None:
    path = tmp_path / "fs.toml"
    path.write_text('embed_every_n = 5\nmatch_top_k = 3\nmilvus_token = "tok-secret"\n')
    monkeypatch.delenv("FACESTREAM_EMBED_EVERY_N", raising=False)
    monkeypatch.setenv("FACESTREAM_MATCH_TOP_K", "7")
    s = load_settings(config_file=path, device="cpu")
    assert (s.embed.every_n, s.match.top_k, s.device) == (5, 7, "cpu")
    assert "tok-secret" not in repr(s)  # a SecretStr
    assert settings_env(s)["FACESTREAM_MILVUS_TOKEN"] == "tok-secret"  # revealed only for child processes


def test_unknown_keys_and_bad_values_are_named(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("embed_everyn = 5\n")
    with pytest.raises(ConfigError, match="embed_everyn"):
        load_settings(config_file=bad)
    with pytest.raises(ConfigError, match="hidden"):
        load_settings(milvus_token=["not", "a", "string"])
    with pytest.raises(ConfigError, match="--config"):
        load_settings(config_file=tmp_path / "missing.toml")
