"""All tunables in one validated object.

Cross-cutting fields sit at the top (``FACESTREAM_<FIELD>``); the rest live in one section per
stage or concern (config/sections.py), set as ``FACESTREAM_<SECTION>_<FIELD>`` or in a
``[section]`` table of the settings file, and each part is handed its own section. Units are part
of the names (``_s``, ``_ms``, ``_px``) so that nobody has to guess them.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, model_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError
from config.redact import scrub
from config.sections import (
    ApiSettings,
    BusSettings,
    DetectSettings,
    EmbedSettings,
    IndexSettings,
    LiveSettings,
    MatchSettings,
    TrackSettings,
    WorkerSettings,
)

# the registry (workers/models/registry.py) owns what each means; facenet = the weights installed
EmbedderName = Literal["auto", "facenet", "dlib", "facenet-casia", "facenet-vggface2"]


class Settings(BaseSettings):
    # FACESTREAM_DETECT_EVERY_N -> detect.every_n; one split only: FACESTREAM_DATA_DIR is data_dir
    model_config = SettingsConfigDict(
        env_prefix="FACESTREAM_", extra="forbid", env_nested_delimiter="_", env_nested_max_split=1
    )

    # --- where things live -------------------------------------------------
    data_dir: Path = Field(
        Path(".facestream"),
        description=("all local state: embedded Redis and Milvus data, logs, supervisor files"),
    )
    redis_url: str | None = Field(None, description="external Redis; unset = embedded server")
    redis_cluster: bool = Field(
        False,
        description=(
            "the Redis URL names a node of a Redis Cluster (needs bus.shards of 2 or more; "
            "docs/scaling.md)"
        ),
    )
    milvus_uri: str | None = Field(
        None, description="external Milvus; unset = embedded milvus-lite"
    )

    # --- locking it down -------------------------------------------------------
    redis_tls_ca_file: Path | None = Field(
        None, description="CA bundle for rediss:// URLs (else the system's)"
    )
    milvus_token: SecretStr | None = Field(
        None, description="Milvus token: 'user:password' or an API key"
    )
    milvus_tls_ca_file: Path | None = Field(
        None, description="CA (server PEM) for https:// Milvus URIs"
    )
    milvus_tls_server_name: str | None = Field(
        None, description="TLS server name when it differs from the host"
    )

    # --- observability ---------------------------------------------------------
    metrics_host: str = Field("127.0.0.1", description="address the Prometheus endpoint binds")
    metrics_port: int = Field(
        0, ge=-1, le=65535, description="Prometheus port: 0 = any free port, -1 = off"
    )

    # --- models --------------------------------------------------------------
    embedder: EmbedderName = Field(
        "auto",
        description=(
            "embedding model: facenet, dlib, or auto (chosen from the weights installed; "
            "the choice is logged)"
        ),
    )
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    torch_threads: int = Field(
        0,
        ge=0,
        description=(
            "torch threads per model process; 0 = torch default (`up` gives each process 1)"
        ),
    )
    facenet_weights: Path | None = Field(
        None,
        description=(
            "InceptionResnetV1 weights (.pt; a name with 'casia' holds CASIA-WebFace weights, else "
            "VGGFace2); unset = the default place (`facestream models where facenet`)"
        ),
    )
    gpu_half: bool = Field(
        True, description=("fp16 networks on CUDA (MTCNN, FaceNet); ignored on CPU")
    )

    # --- frames on the bus (grabber, detector and tracker alike) ----------------
    jpeg_quality: int = Field(
        90, ge=30, le=100, description=("JPEG quality of frames and face chips on the bus")
    )
    scene_cut_threshold: float = Field(
        0.25, gt=0.0, description=("histogram distance that ends all tracks (>= 1 disables)")
    )
    max_in_flight_frames: int = Field(
        48, ge=1, description=("file sources wait when this many frames are unfinished")
    )

    # --- one section per stage or concern ------------------------------------
    detect: DetectSettings = Field(default_factory=DetectSettings)
    track: TrackSettings = Field(default_factory=TrackSettings)
    embed: EmbedSettings = Field(default_factory=EmbedSettings)
    match: MatchSettings = Field(default_factory=MatchSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    live: LiveSettings = Field(default_factory=LiveSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        # a file frame whose detector died is reclaimed after claim_idle_ms; the tracker must still
        # be waiting for it then, or it gives the frame up and the reclaimed one arrives too late
        if self.track.reorder_wait_file_s * 1000 <= self.bus.claim_idle_ms:
            raise ValueError(
                f"track.reorder_wait_file_s: expected more than bus.claim_idle_ms "
                f"({self.bus.claim_idle_ms} ms), got {self.track.reorder_wait_file_s} s"
            )
        # the reconnect backoff starts at the initial delay and doubles up to the cap
        if self.live.reconnect_max_s < self.live.reconnect_initial_s:
            raise ValueError(
                f"live.reconnect_max_s: expected at least live.reconnect_initial_s "
                f"({self.live.reconnect_initial_s}), got {self.live.reconnect_max_s}"
            )
        # on a cluster, one shard would put every camera's streams in one slot (one master)
        if self.redis_cluster and (self.redis_url is None or self.bus.shards < 2):
            raise ValueError(
                "redis_cluster: expected an external redis_url and bus.shards of 2 or more "
                f"(about 3 per master), got redis_url={'set' if self.redis_url else 'unset'}, "
                f"bus.shards={self.bus.shards}"
            )
        return self


# where each setting of the flat layout went: old name -> section.field
MOVED = {
    "detect_workers": "detect.workers",
    "detect_max_side_px": "detect.max_side_px",
    "min_face_px": "detect.min_face_px",
    "detect_min_confidence": "detect.min_confidence",
    "detect_every_n": "detect.every_n",
    "detect_max_every_n": "detect.max_every_n",
    "detect_lag_budget_ms": "detect.lag_budget_ms",
    "detect_batch_frames": "detect.batch_frames",
    "tracker": "track.kind",
    "track_iou_min": "track.iou_min",
    "track_high_confidence": "track.high_confidence",
    "track_min_hits": "track.min_hits",
    "track_tentative_lost_s": "track.tentative_lost_s",
    "track_max_lost_s": "track.max_lost_s",
    "track_reid_window_s": "track.reid_window_s",
    "track_reid_min_similarity": "track.reid_min_similarity",
    "reorder_wait_s": "track.reorder_wait_s",
    "reorder_wait_file_s": "track.reorder_wait_file_s",
    "embed_workers": "embed.workers",
    "embed_every_n": "embed.every_n",
    "embed_budget_per_track": "embed.budget_per_track",
    "embed_min_gap_s": "embed.min_gap_s",
    "embed_refresh_s": "embed.refresh_s",
    "embed_max_per_live_frame": "embed.max_per_live_frame",
    "match_threshold": "match.threshold",
    "match_margin": "match.margin",
    "match_top_k": "match.top_k",
    "unknown_below": "match.unknown_below",
    "unknown_min_observations": "match.unknown_min_observations",
    "stream_maxlen": "bus.stream_maxlen",
    "results_maxlen": "bus.results_maxlen",
    "read_count": "bus.read_count",
    "block_ms": "bus.block_ms",
    "claim_idle_ms": "bus.claim_idle_ms",
    "max_deliveries": "bus.max_deliveries",
    "health_ttl_s": "bus.health_ttl_s",
    "redis_retry_max_s": "bus.redis_retry_max_s",
    "open_timeout_s": "live.open_timeout_s",
    "stall_timeout_s": "live.stall_timeout_s",
    "reconnect_initial_s": "live.reconnect_initial_s",
    "reconnect_max_s": "live.reconnect_max_s",
    "max_age_s": "live.max_age_s",
    "live_max_in_flight_frames": "live.max_in_flight_frames",
    "rtsp_transport": "live.rtsp_transport",
    "worker_restart_max_s": "worker.restart_max_s",
    "worker_crash_loop": "worker.crash_loop",
    "stop_timeout_s": "worker.stop_timeout_s",
}


def env_name(dotted: str) -> str:
    """``detect.every_n`` -> ``FACESTREAM_DETECT_EVERY_N``."""
    return "FACESTREAM_" + dotted.replace(".", "_").upper()


# environment variables whose name changed with the sections (the others kept theirs)
RENAMED_ENV = {
    env_name(old): env_name(new) for old, new in MOVED.items() if env_name(old) != env_name(new)
}


def _sections() -> dict[str, type[BaseModel]]:
    return {
        name: f.annotation
        for name, f in Settings.model_fields.items()
        if isinstance(f.annotation, type) and issubclass(f.annotation, BaseModel)
    }


def read_config_file(path: Path) -> dict:
    """A TOML (or JSON) settings file: top-level keys and ``[section]`` tables of Settings."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(
            f"--config: expected a readable TOML or JSON file, got {path} ({exc.strerror})"
        ) from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"--config {path}: expected TOML (or .json), got a parse error: {exc}"
        ) from None
    sections = _sections()
    moved = {k: MOVED[k] for k in data if k in MOVED and k not in Settings.model_fields}
    if moved:
        where = ", ".join(
            f"{k} -> [{new.split('.')[0]}] {new.split('.')[1]}" for k, new in sorted(moved.items())
        )
        raise ConfigError(f"--config {path}: settings moved into sections: {where}")
    unknown = sorted(set(data) - set(Settings.model_fields))
    for name, model in sections.items():
        if name not in data:
            continue
        if not isinstance(data[name], dict):
            raise ConfigError(
                f"--config {path}: {name}: expected a [{name}] table, got {data[name]!r}"
            )
        unknown += sorted(f"{name}.{k}" for k in set(data[name]) - set(model.model_fields))
    if unknown:
        raise ConfigError(
            f"--config {path}: unknown settings {unknown}; expected names from "
            f"docs/configuration.md"
        )
    return data


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings: explicit (CLI) values over FACESTREAM_* variables over the config file over defaults.

    None means 'not given'. An override's name may be dotted (``detect.every_n``) or a section
    given as a dict.
    """
    renamed = sorted(old for old in RENAMED_ENV if old in os.environ)
    if renamed:
        raise ConfigError(
            "environment: renamed settings: "
            + ", ".join(f"{old} is now {RENAMED_ENV[old]}" for old in renamed)
        )
    values: dict = {}
    if config_file is not None:
        for key, value in read_config_file(config_file).items():
            if isinstance(value, dict) and key in _sections():
                for field, inner in value.items():
                    if env_name(f"{key}.{field}") not in os.environ:
                        _put(values, f"{key}.{field}", inner)
            elif env_name(key) not in os.environ:
                values[key] = value
    for key, value in overrides.items():
        if value is None:
            continue
        if key in MOVED and key not in Settings.model_fields:
            raise ConfigError(f"setting {key}: expected its new name {MOVED[key]}, got the old one")
        if isinstance(value, dict):
            for field, inner in value.items():
                _put(values, f"{key}.{field}", inner)
        else:
            _put(values, key, value)
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']} (got {_shown(e)})"
            for e in exc.errors()
        )
        raise ConfigError(f"settings: {problems}") from None


def _put(values: dict, dotted: str, value: object) -> None:
    section, _, field = dotted.partition(".")
    if field:
        values.setdefault(section, {})[field] = value
    else:
        values[section] = value


def _shown(error: ErrorDetails) -> str:
    """The rejected value for an error message, except for secrets."""
    if any(str(part) in SECRET_FIELDS for part in error["loc"]):
        return "a value (hidden)"
    if not error["loc"]:  # a cross-field check: its message names the fields and values
        return "the values above"
    return scrub(repr(error.get("input")))


SECRET_FIELDS = ("milvus_token",)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as FACESTREAM_* variables (secrets revealed: for child processes only)."""
    env = {}
    for name in Settings.model_fields:
        raw = getattr(settings, name)
        items = (
            [(f"{name}.{k}", getattr(raw, k)) for k in type(raw).model_fields]
            if isinstance(raw, BaseModel)
            else [(name, raw)]
        )
        for dotted, value in items:
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is not None:
                env[env_name(dotted)] = _env_text(value)
    return env


def _env_text(value: object) -> str:
    """A value as pydantic reads it back from the environment."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def env_as_file(env: dict[str, str]) -> dict:
    """FACESTREAM_* variables as settings-file values (``..._DETECT_EVERY_N``: [detect] every_n)."""
    sections = _sections()
    values: dict = {}
    for key, value in env.items():
        name = key.removeprefix("FACESTREAM_").lower()
        head, _, rest = name.partition("_")
        _put(values, f"{head}.{rest}" if head in sections and rest else name, value)
    return values


def file_as_env(values: dict) -> dict[str, str]:
    """The inverse of :func:`env_as_file`."""
    env = {}
    for key, value in values.items():
        inner = value.items() if isinstance(value, dict) else [(None, value)]
        for field, item in inner:
            env[env_name(f"{key}.{field}" if field else key)] = str(item)
    return env
