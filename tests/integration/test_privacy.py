"""Another local user reads nothing of what facestream keeps: the data dir, the embedded Redis,
the embedded Milvus.

The stack is started by the real CLI as root (``watch`` keeps it up while ``enroll`` and ``cameras
add`` use it), in a data dir that an older version left open (0755, a 0644 log). Then a probe runs
as ``nobody`` with the standard library only. Needs root (to become ``nobody``): under CI=true a
missing prerequisite fails the test, elsewhere it skips.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from facestream.stack import EmbeddedStack

pytestmark = pytest.mark.slow

CAMERA_SECRET = "CamPrivacy963qwe"
OLD_LOG = "an old log line naming ada"

# Runs as nobody: tries every path and both servers; prints what it could reach.
PROBE = r"""
import json, os, socket, sys
target = json.loads(sys.argv[1])
reached = []
for path in target["dirs"]:
    try:
        os.listdir(path)
        reached.append("listed " + path)
    except PermissionError:
        pass
for path in target["files"]:
    try:
        open(path, "rb").close()
        reached.append("opened " + path)
    except PermissionError:
        pass
s = socket.create_connection(("127.0.0.1", target["redis_port"]), timeout=5)
s.sendall(b"*2\r\n$7\r\nHGETALL\r\n$17\r\nfs:camera-sources\r\n")
reply = s.recv(4096)
s.close()
if not reply.startswith(b"-NOAUTH"):
    reached.append("redis answered " + repr(reply[:80]))
milvus = target["milvus"]
try:
    if milvus.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX)
        s.connect(milvus[len("unix:"):])
    else:
        s = socket.create_connection(("127.0.0.1", int(milvus.rsplit(":", 1)[1])), timeout=5)
    s.close()
    reached.append("connected to milvus at " + milvus)
except PermissionError:
    pass
print(json.dumps(reached))
"""


def _prerequisite(ok: bool, what: str) -> None:
    if ok:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what}: expected it under CI")
    pytest.skip(what)


def _as_nobody() -> list[str]:
    """``setpriv`` to nobody, and a Python that nobody may run (a venv under /root is not one)."""
    _prerequisite(os.geteuid() == 0, "needs root to run a probe as another user")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        nobody = None
    _prerequisite(nobody is not None, "needs a user named nobody")
    setpriv = shutil.which("setpriv")
    _prerequisite(setpriv is not None, "needs setpriv (util-linux)")
    become = [setpriv, f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
    for python in dict.fromkeys(
        [
            sys.executable,
            os.path.realpath(sys.executable),
            "/usr/bin/python3",
            shutil.which("python3") or "python3",
        ]
    ):
        if (
            subprocess.run(
                [*become, python, "-c", "import json, socket"],
                check=False,
                capture_output=True,
                timeout=30,
                cwd="/",
            ).returncode
            == 0
        ):
            return [*become, python]
    _prerequisite(False, "needs a Python that the user nobody may run")
    raise AssertionError("unreachable")


@pytest.fixture
def open_parent() -> Iterator[Path]:
    """A folder other users may enter, as home or project folders often are (pytest's is 0700)."""
    parent = Path(tempfile.mkdtemp(prefix="fs-privacy-", dir="/tmp"))
    os.chmod(parent, 0o755)
    yield parent
    shutil.rmtree(parent, ignore_errors=True)


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(Path(__file__).resolve().parents[2]), env.get("PYTHONPATH")) if p
    )
    return env


def _wait_for(proc: subprocess.Popen, log: Path, text: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in log.read_text(errors="replace"):
        assert proc.poll() is None, (
            f"exited {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}"
        )
        assert time.monotonic() < deadline, (
            f"no {text!r} in {timeout_s:.0f} s:\n{log.read_text()[-3000:]}"
        )
        time.sleep(0.2)


def test_another_local_user_reads_nothing(open_parent: Path, shared_dir: Path) -> None:
    nobody = _as_nobody()
    data_dir = open_parent / "data"
    # what an older version left: everything readable by every local user
    (data_dir / "logs").mkdir(parents=True)
    os.chmod(data_dir, 0o755)
    os.chmod(data_dir / "logs", 0o755)
    old_log = data_dir / "logs" / "old.log"
    old_log.write_text(OLD_LOG + "\n")
    os.chmod(old_log, 0o644)

    watch_log = open_parent / "watch.log"  # outside the data dir: the test reads it
    with open(watch_log, "wb") as fh:
        watch = subprocess.Popen(
            _cli(data_dir, "watch"), stdout=fh, stderr=subprocess.STDOUT, env=_env()
        )
    try:
        _wait_for(watch, watch_log, "watching", 120)
        enrolled = subprocess.run(
            _cli(
                data_dir,
                "enroll",
                "ada",
                str(shared_dir / "faces" / "gallery" / "obama" / "obama.jpg"),
            ),
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
            env=_env(),
        )
        assert enrolled.returncode == 0, enrolled.stderr
        camera_url = f"rtsp://admin:{CAMERA_SECRET}@127.0.0.1:9/stream"
        added = subprocess.run(
            _cli(data_dir, "cameras", "add", "door", camera_url),
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            env=_env(),
        )
        assert added.returncode == 0, added.stderr

        records = {
            name: json.loads((data_dir / "stack" / f"{name}.json").read_text())
            for name in ("redis", "milvus")
        }
        dirs, files, loose = [str(data_dir)], [], []
        for root, dnames, fnames in os.walk(data_dir):
            for name in dnames + fnames:
                path = Path(root) / name
                mode = path.lstat().st_mode
                if stat.S_IMODE(mode) & 0o077:
                    loose.append(f"{path} {stat.filemode(mode)}")
                (dirs if stat.S_ISDIR(mode) else files).append(str(path))
        assert loose == [], "readable by other users:\n" + "\n".join(loose)
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((data_dir / "secrets" / "cameras.key").stat().st_mode) == 0o600
        # the camera's password is nowhere on disk in clear (the AOF holds the sealed URL)
        with_secret = [
            p for p in files if Path(p).is_file() and CAMERA_SECRET.encode() in Path(p).read_bytes()
        ]
        assert with_secret == [], f"camera password in clear in {with_secret}"

        target = {
            "dirs": dirs,
            "files": files,
            "redis_port": records["redis"]["port"],
            "milvus": records["milvus"]["url"],
        }
        probe = subprocess.run(
            [*nobody, "-c", PROBE, json.dumps(target)],
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        assert probe.returncode == 0, probe.stderr
        reached = json.loads(probe.stdout)
        assert reached == [], "the user nobody reached:\n" + "\n".join(reached)
        assert len(files) >= 5, (
            files
        )  # the probe had something to try: AOF, Milvus files, logs, key
    finally:
        watch.send_signal(signal.SIGINT)
        try:
            watch.wait(timeout=60)
        except subprocess.TimeoutExpired:
            watch.kill()
        EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)).stop_recorded()
    said = watch_log.read_text(errors="replace")
    assert "readable by other local users" in said and str(data_dir) in said, said[-3000:]


def test_supervisord_and_its_programs_create_private_files(tmp_path: Path) -> None:
    """``up``'s supervisord config, with one program that writes a file in place of the workers."""
    import configparser

    from facestream.servers import write_private
    from facestream.supervise import Supervisor

    sup = Supervisor(Settings(data_dir=tmp_path / "data", redis_url=None, milvus_uri=None))
    sup.write({}, {})
    parser = configparser.RawConfigParser()
    parser.read_string(sup.render({}))
    for section in [s for s in parser.sections() if s.startswith("program:")]:
        parser.remove_section(section)
    made = tmp_path / "data" / "made-by-a-program"
    parser["program:probe"] = {
        "command": f"/bin/sh -c 'echo ada > {made}; exec sleep 60'",
        "autostart": "true",
        "startsecs": "0",
        "stdout_logfile": str(tmp_path / "data" / "logs" / "probe.log"),
    }
    lines = []
    for section in parser.sections():
        lines += [f"[{section}]", *(f"{k}={v}" for k, v in parser[section].items()), ""]
    write_private(sup.conf, "\n".join(lines))
    old = os.umask(0o022)  # as a shell would start it: supervisord must not inherit privacy
    try:
        sup.start()
    finally:
        os.umask(old)
    try:
        deadline = time.monotonic() + 30
        while not made.exists():
            assert time.monotonic() < deadline, "the program never ran"
            time.sleep(0.2)
        log = tmp_path / "data" / "logs" / "supervisord.log"
        probe_log = log.with_name("probe.log")
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (made, log, probe_log)}
        assert modes == {made.name: 0o600, log.name: 0o600, probe_log.name: 0o600}
    finally:
        sup.shutdown()
