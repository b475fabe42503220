"""Keep what facestream writes private to the user who runs it.

The data directory holds face chips and frames (in the Redis AOF), embeddings
(milvus-lite's files), names, camera URLs and logs: biometric data that other
local users must not read. Every facestream process sets the umask 077 where it
starts (:func:`restrict_umask`), so whatever it creates is 0700/0600, and
:func:`secure_data_dir` tightens a data dir that an older version left readable.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from pathlib import Path

from config.errors import StackError

log = logging.getLogger(__name__)

UMASK = 0o077
_GROUP_OTHER = 0o077
# sockaddr_un.sun_path holds 108 bytes with the trailing NUL on Linux
MAX_SOCKET_PATH = 107


# what facestream keeps in a data dir; anything else there is the user's, and left as it is
# (a data dir set to a project folder must not have the whole project's modes changed)
OWNED = ("stack", "redis", "milvus", "logs", "supervisor", "secrets")


def restrict_umask() -> None:
    """Files 0600 and directories 0700 from here on, in this process and every child it starts."""
    os.umask(UMASK)


def secure_data_dir(data_dir: Path) -> int:
    """Create ``data_dir`` 0700, or take group and other bits off it and what facestream keeps
    in it (:data:`OWNED`); symlinks are neither followed nor changed.

    Returns how many entries were tightened; a data dir written by a version before the umask
    (0755 directories, 0644 files) is said in the log.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    denied: list[Path] = []
    changed = _tighten(data_dir, denied)
    for top in OWNED:
        changed += _tighten(data_dir / top, denied)
        for root, dirs, files in os.walk(data_dir / top):
            for name in dirs + files:
                changed += _tighten(Path(root) / name, denied)
    if denied:
        log.warning(
            "data dir %s: %d entries readable by other local users are not ours to change "
            "(first: %s); make them private by hand",
            data_dir,
            len(denied),
            denied[0],
        )
    if changed:
        log.warning(
            "data dir %s: %d files and directories were readable by other local users "
            "(left by an older facestream); made them private (directories 0700, files 0600)",
            data_dir,
            changed,
        )
    return changed


def _tighten(path: Path, denied: list[Path]) -> int:
    try:
        st = path.lstat()
    except FileNotFoundError:  # removed meanwhile (a rotated log, a compacted segment)
        return 0
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & _GROUP_OTHER:
        return 0
    try:
        os.chmod(path, stat.S_IMODE(st.st_mode) & ~_GROUP_OTHER)
    except PermissionError:
        denied.append(path)
        return 0
    except FileNotFoundError:
        return 0
    return 1


def private_dir(path: Path) -> Path:
    """``path`` as a directory that only we can enter (created 0700, tightened if it exists)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def socket_dir(data_dir: Path) -> Path:
    """A private directory for the unix sockets of the embedded servers.

    ``<data_dir>/stack`` where its paths fit in a socket address, else a directory under /tmp
    named after the data dir that must be ours and 0700 (another user could have made it first).
    """
    here = Path(data_dir) / "stack"
    if len(str(here / "milvus.sock:0")) <= MAX_SOCKET_PATH:
        return private_dir(here)
    digest = hashlib.sha1(str(Path(data_dir).resolve()).encode()).hexdigest()[:12]
    there = Path("/tmp") / f"facestream-{os.geteuid()}-{digest}"
    try:
        there.mkdir(mode=0o700)
    except FileExistsError:
        pass
    st = there.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise StackError(
            f"socket directory {there}: expected a directory owned by uid {os.geteuid()}, "
            f"got one owned by uid {st.st_uid}; remove it, or use a shorter --data-dir"
        )
    os.chmod(there, 0o700)
    return there
