"""The generated supervisord config and `scale` arguments."""

from __future__ import annotations

import configparser
import sys

import pytest

from config.errors import ConfigError
from config.settings import Settings
from facestream.supervise import Supervisor, parse_scale


def test_config_has_numprocs_per_kind_autorestart_and_logs_under_the_data_dir(tmp_path) -> None:
    sup = Supervisor(Settings(data_dir=tmp_path / "d%ir"))
    text = sup.render({"detect": 2, "embed": 3})
    conf = configparser.RawConfigParser()
    conf.read_string(text)
    assert conf["program:detect"]["numprocs"] == "2"
    assert conf["program:embed"]["numprocs"] == "3"
    assert conf["program:match"]["numprocs"] == "1" and conf["program:track"]["numprocs"] == "1"
    for name in ("detect", "embed", "match", "track", "cameras"):
        section = conf[f"program:{name}"]
        assert section["autorestart"] == "true"
        assert section["stdout_logfile"].startswith(
            str(tmp_path / "d%%ir" / "logs")
        )  # % escaped for supervisor
        assert section["command"].startswith(f"{sys.executable} -m facestream --config ")
        assert section["process_name"] == "%(program_name)s-%(process_num)d"
    assert conf["program:detect"]["command"].endswith("worker detect")
    assert conf["program:cameras"]["command"].endswith("cameras serve")
    assert conf["program:api"]["command"].endswith(" serve")
    assert conf["unix_http_server"]["chmod"] == "0700"


def test_written_files_are_private(tmp_path) -> None:
    sup = Supervisor(Settings(data_dir=tmp_path))
    sup.write({"detect": 1}, {"FACESTREAM_REDIS_URL": "redis://:pw@127.0.0.1:1/0"})
    for path in (sup.conf, sup.settings_file, sup.counts_file):
        assert path.stat().st_mode & 0o077 == 0, path
    assert sup.counts() == {"detect": 1}


def test_parse_scale() -> None:
    assert parse_scale(["detector=4", "embed=2", "matchers=3"]) == {
        "detect": 4,
        "embed": 2,
        "match": 3,
    }
    for bad in ("detector", "detector=x", "grabber=2", "tracker=2", "detect=100"):
        with pytest.raises(ConfigError):
            parse_scale([bad])


def test_a_servers_program_keeps_the_embedded_servers(tmp_path) -> None:
    sup = Supervisor(Settings(data_dir=tmp_path))
    conf = configparser.RawConfigParser()
    conf.read_string(sup.render({"detect": 1}))
    section = conf["program:servers"]
    assert section["command"] == f"{sys.executable} -m facestream.keep_servers {sup.data_dir}"
    assert section["autorestart"] == "true"
    assert section["stdout_logfile"].endswith("servers-keeper.log")
