"""Private by default: the umask, tightening a data dir an older version left open, the socket
directory of the embedded Milvus, supervisord's umask."""

from __future__ import annotations

import configparser
import hashlib
import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import StackError
from config.settings import Settings
from facestream.private import MAX_SOCKET_PATH, secure_data_dir, socket_dir
from facestream.supervise import Supervisor


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_cli_entry_sets_umask_077_for_itself_and_its_children(tmp_path: Path) -> None:
    code = (
        "import os, subprocess, sys; from facestream import cli; "
        "sys.argv = ['facestream', '--help']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        f"open({str(tmp_path / 'f')!r}, 'w').close(); os.mkdir({str(tmp_path / 'd')!r}); "
        f"subprocess.run(['touch', {str(tmp_path / 'child')!r}], check=True)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    assert done.returncode == 0, done.stderr
    assert (_mode(tmp_path / "f"), _mode(tmp_path / "d"), _mode(tmp_path / "child")) == (
        0o600,
        0o700,
        0o600,
    )


def test_a_data_dir_left_open_is_tightened_and_said_once(tmp_path: Path, caplog) -> None:
    data = tmp_path / "data"
    (data / "redis" / "appendonlydir").mkdir(parents=True)
    aof = data / "redis" / "appendonlydir" / "appendonly.aof.1.incr.aof"
    aof.write_text("HSET fs:people ada")
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours to change")
    (data / "redis" / "link").symlink_to(outside)
    users = data / "notes.txt"  # not facestream's: a data dir may be a project folder
    users.write_text("the user's own")
    os.chmod(users, 0o644)
    old_modes = (
        (data, 0o755),
        (data / "redis", 0o755),
        (data / "redis" / "appendonlydir", 0o750),
        (aof, 0o644),
        (outside, 0o644),
    )
    for path, mode in old_modes:
        os.chmod(path, mode)
    with caplog.at_level(logging.WARNING, logger="facestream.private"):
        assert secure_data_dir(data) == 4
        assert secure_data_dir(data) == 0
    assert [_mode(p) for p in (data, data / "redis", data / "redis" / "appendonlydir", aof)] == [
        0o700,
        0o700,
        0o700,
        0o600,
    ]
    assert _mode(outside) == 0o644  # a symlink is not followed
    assert _mode(users) == 0o644
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "readable by other local users" in said[0] and str(data) in said[0]


def test_a_new_data_dir_is_created_private(tmp_path: Path) -> None:
    secure_data_dir(tmp_path / "new" / "data")
    assert _mode(tmp_path / "new" / "data") == 0o700


def test_the_milvus_socket_directory_is_private_and_fits_a_socket_address(tmp_path: Path) -> None:
    short = tmp_path / "d"
    assert socket_dir(short) == short / "stack" and _mode(short / "stack") == 0o700
    deep = tmp_path / ("x" * 60) / ("y" * 60)
    there = socket_dir(deep)
    try:
        assert len(str(there / "milvus.sock:0")) <= MAX_SOCKET_PATH
        assert there.parent == Path("/tmp") and _mode(there) == 0o700
        assert there.stat().st_uid == os.geteuid()
        assert socket_dir(deep) == there  # the same one next time
    finally:
        there.rmdir()


def test_a_socket_directory_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 60) / ("z" * 60)
    digest = hashlib.sha1(str(deep.resolve()).encode()).hexdigest()[:12]
    squatted = Path("/tmp") / f"facestream-{os.geteuid()}-{digest}"
    squatted.write_text("planted")  # not a directory: as good as someone else's
    try:
        with pytest.raises(StackError, match="expected a directory owned by uid"):
            socket_dir(deep)
    finally:
        squatted.unlink()


def test_supervisord_runs_with_umask_077(tmp_path: Path) -> None:
    sup = Supervisor(Settings(data_dir=tmp_path, redis_url=None, milvus_uri=None))
    parser = configparser.RawConfigParser()
    parser.read_string(sup.render({"detect": 1}))
    assert parser.get("supervisord", "umask") == "077"
