"""Camera URLs at rest: sealed in Redis, opened only by the process that grabs the camera.

A camera URL often carries the camera's password (``rtsp://admin:pw@10.0.0.7/…``),
and Redis persists everything to its AOF on disk. ``cameras add`` stores, per
camera in the hash ``fs:camera-sources``, the redacted URL (for ``cameras`` and
``status``) and the URL sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a
key kept in ``<data-dir>/secrets/cameras.key`` (0600). Only the camera manager
opens it. A missing or different key is an error for that camera alone: it
must be added again.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import redis
from cryptography.fernet import Fernet, InvalidToken

from config.errors import ConfigError
from config.redact import redact_url
from facestream.private import private_dir
from facestream.servers import write_private
from workers import keys
from workers.replies import text_map

log = logging.getLogger(__name__)

KEY_FILE = Path("secrets") / "cameras.key"
FORMAT = 1


class CameraUrlError(ConfigError):
    """A stored camera URL cannot be opened (key file missing, unreadable, or another key)."""


def key_path(data_dir: Path) -> Path:
    return Path(data_dir).expanduser().resolve() / KEY_FILE


def _fernet(data_dir: Path, create: bool) -> Fernet:
    path = key_path(data_dir)
    try:
        raw = path.read_bytes().strip()
    except FileNotFoundError:
        if not create:
            raise CameraUrlError(
                f"camera key file {path}: expected the key that sealed the camera URLs, "
                "got no such file"
            ) from None
        raw = _create_key(path)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o600)
    try:
        return Fernet(raw)
    except ValueError:
        raise CameraUrlError(
            f"camera key file {path}: expected a Fernet key (32 url-safe base64-encoded "
            f"bytes), got {len(raw)} bytes of something else; remove it and add the "
            "cameras again"
        ) from None


def _create_key(path: Path) -> bytes:
    """A new key at ``path``, unless another ``cameras add`` made one first: then that one.

    Written whole to a private temporary file, then linked into place: ``link`` fails when the
    path exists, so two racing processes never seal with two different keys.
    """
    private_dir(path.parent)
    raw = Fernet.generate_key()
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    write_private(tmp, raw.decode() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path.read_bytes().strip()
    finally:
        tmp.unlink(missing_ok=True)
    log.info("created the camera key %s (0600): keep it with the data dir", path)
    return raw


def seal(data_dir: Path, url: str) -> str:
    """The hash value for ``url``: its redacted form and the URL sealed under the data dir's key."""
    token = _fernet(data_dir, create=True).encrypt(url.encode()).decode()
    return json.dumps({"v": FORMAT, "source": redact_url(url), "sealed": token})


def is_sealed(value: str) -> bool:
    return value.startswith("{")


def shown(value: str) -> str:
    """What ``cameras`` and ``status`` show for a stored value: the redacted URL (no key needed)."""
    if not is_sealed(value):  # stored in clear by an older version
        return redact_url(value)
    try:
        return str(json.loads(value)["source"])
    except (ValueError, KeyError, TypeError):
        return "(unreadable)"


def unseal(data_dir: Path, camera: str, value: str) -> str:
    """The camera's URL, or :class:`CameraUrlError` naming the camera and what to do."""
    if not is_sealed(value):
        return value
    again = f"add it again with `facestream cameras add {camera} URL`"
    try:
        data = json.loads(value)
        token = data["sealed"].encode()
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CameraUrlError(
            f"camera {camera}: expected a sealed URL in {keys.CAMERA_SOURCES}, got an "
            f"unreadable value; {again}"
        ) from None
    try:
        fernet = _fernet(data_dir, create=False)
    except CameraUrlError as exc:
        raise CameraUrlError(f"camera {camera}: {exc}; {again}") from None
    try:
        return fernet.decrypt(token).decode()
    except InvalidToken:
        raise CameraUrlError(
            f"camera {camera}: its URL was sealed with another key than "
            f"{key_path(data_dir)} (replaced, or another data dir's); {again}"
        ) from None


def add(client: redis.Redis, data_dir: Path, name: str, url: str) -> None:
    client.hset(keys.CAMERA_SOURCES, name, seal(data_dir, url))


def stored(client: redis.Redis) -> dict[str, str]:
    return text_map(client.hgetall(keys.CAMERA_SOURCES))


class Opener:
    """The camera manager's view of ``fs:camera-sources``: camera -> URL, for those it can open.

    A camera whose URL cannot be opened is left out, marked ``failed`` and logged once per stored
    value; one stored in clear by an older version is sealed in place.
    """

    def __init__(self, client: redis.Redis, data_dir: Path):
        self.redis = client
        self.data_dir = data_dir
        self._reported: dict[str, str] = {}

    def urls(self) -> dict[str, str]:
        out = {}
        for name, value in stored(self.redis).items():
            try:
                out[name] = unseal(self.data_dir, name, value)
            except CameraUrlError as exc:
                if self._reported.get(name) != value:
                    self._reported[name] = value
                    log.error("%s", exc)
                    self.redis.hset(keys.camera_info(name), "state", "failed")
                continue
            if not is_sealed(value):
                self._seal_in_place(name, value)
        return out

    def _seal_in_place(self, name: str, url: str) -> None:
        if self.redis.hget(keys.CAMERA_SOURCES, name) != url.encode():
            return
        try:
            sealed = seal(self.data_dir, url)
        except CameraUrlError as exc:  # an unusable key file: the camera runs, the URL stays
            if self._reported.get(name) != url:
                self._reported[name] = url
                log.error("camera %s: its URL is stored in clear, cannot seal it: %s", name, exc)
            return
        self.redis.hset(keys.CAMERA_SOURCES, name, sealed)
        log.warning(
            "camera %s: its URL was stored in clear (an older facestream); sealed it now", name
        )
        try:  # drop the clear value from the AOF too; a managed Redis may not allow it
            self.redis.bgrewriteaof()
        except redis.ResponseError as exc:
            log.warning(
                "camera %s: the Redis AOF still holds its old clear URL until Redis rewrites "
                "it (BGREWRITEAOF: %s)",
                name,
                exc,
            )
