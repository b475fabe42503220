"""Cameras and their policies: one per source of a run, or a fixed set from ``cameras.toml``.

```toml
[defaults]                 # optional; any policy field, applied to every camera below
stall_timeout_s = 5

[cameras.door]             # the table's name is the camera's name
url = "rtsp://user:pw@10.0.0.7/stream1"
max_age_s = 1.0

[cameras.lobby]
url = "http://10.0.0.8/video.mjpg"
live = true                # unset = guessed from the URL (files and http(s) video files are not live)
```

Unset policy fields fall back to the ``live`` settings (``FACESTREAM_LIVE_STALL_TIMEOUT_S`` ...).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config.errors import ConfigError
from config.sections import LiveSettings
from config.settings import Settings

# the one camera-name rule: a name becomes part of Redis keys and stream names (fs:frames:NAME),
# Prometheus labels and track ids, so it stays to characters none of them treats specially
_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
POLICY_FIELDS = tuple(LiveSettings.model_fields)


class CameraPolicy(BaseModel):
    """How one camera is read; every field has the ``live`` setting of the same name as default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    live: bool | None = None  # None: decided from the URL
    open_timeout_s: float | None = Field(None, gt=0)
    stall_timeout_s: float | None = Field(None, gt=0)
    reconnect_initial_s: float | None = Field(None, gt=0)
    reconnect_max_s: float | None = Field(None, gt=0)
    max_age_s: float | None = Field(None, gt=0)
    max_in_flight_frames: int | None = Field(None, ge=1)
    rtsp_transport: Literal["tcp", "udp"] | None = None

    def resolved(self, live: LiveSettings) -> ResolvedPolicy:
        """Every unset field filled in from the ``live`` settings."""
        filled = {
            f: getattr(self, f) if getattr(self, f) is not None else getattr(live, f)
            for f in POLICY_FIELDS
        }
        return ResolvedPolicy(**{**self.model_dump(), **filled})


class ResolvedPolicy(CameraPolicy):
    """A policy with every setting filled in (``CameraPolicy.resolved``): what the grabber and the
    live reader use, so that their arithmetic never meets a None."""

    open_timeout_s: float = Field(gt=0)
    stall_timeout_s: float = Field(gt=0)
    reconnect_initial_s: float = Field(gt=0)
    reconnect_max_s: float = Field(gt=0)
    max_age_s: float = Field(gt=0)
    max_in_flight_frames: int = Field(ge=1)
    rtsp_transport: Literal["tcp", "udp"]


class CameraConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    url: str
    policy: CameraPolicy = CameraPolicy()


def check_name(name: str) -> str:
    """The name, if valid: the one rule for run, ingest, cameras add and cameras.toml."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(f"camera name: expected 1-64 of [A-Za-z0-9_.-], got {name!r}")
    return name


def load_cameras(path: Path, settings: Settings) -> list[CameraConfig]:
    """Parse and validate a cameras file; errors name the camera and the field."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config {path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config {path}: not valid TOML ({exc})") from None
    unknown = set(data) - {"defaults", "cameras"}
    if unknown:
        raise ConfigError(
            f"--config {path}: expected tables [defaults] and [cameras.NAME], got {sorted(unknown)}"
        )
    cameras = data.get("cameras")
    if not isinstance(cameras, dict) or not cameras:
        raise ConfigError(f"--config {path}: expected at least one [cameras.NAME] table with a url")
    defaults = data.get("defaults", {})
    out = []
    for name, table in cameras.items():
        check_name(name)
        if not isinstance(table, dict) or not isinstance(table.get("url"), str):
            raise ConfigError(
                f"--config {path}: camera {name!r}: expected a url string, got {table!r}"
            )
        fields = {**defaults, **{k: v for k, v in table.items() if k != "url"}}
        if "live_max_in_flight_frames" in fields:
            raise ConfigError(
                f"--config {path}: camera {name!r}: live_max_in_flight_frames: "
                f"expected its new name max_in_flight_frames, got the old one"
            )
        try:
            policy = CameraPolicy(**fields).resolved(settings.live)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
                for e in exc.errors()
            )
            raise ConfigError(f"--config {path}: camera {name!r}: {problems}") from None
        out.append(CameraConfig(name=name, url=table["url"], policy=policy))
    return out
