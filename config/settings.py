"""All tunables in one validated object.

Every field can be set as an environment variable ``FACESTREAM_<FIELD>`` or as a
command-line option of the same name; units are part of the names (``_s``,
``_ms``, ``_px``) so that nobody has to guess them.
"""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError
from config.redact import scrub

# the registry (workers/models/registry.py) owns what each means; facenet = the weights installed
EmbedderName = Literal["auto", "facenet", "dlib", "facenet-casia", "facenet-vggface2"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACESTREAM_", extra="forbid")

    # --- where things live -------------------------------------------------
    data_dir: Path = Field(Path(".facestream"), description=(
        "all local state: embedded Redis and Milvus data, logs, supervisor files"))
    redis_url: str | None = Field(None, description="external Redis; unset = embedded server")
    milvus_uri: str | None = Field(None, description="external Milvus; unset = embedded milvus-lite")

    # --- locking it down -------------------------------------------------------
    redis_tls_ca_file: Path | None = Field(None, description="CA bundle for rediss:// URLs (else the system's)")
    milvus_token: SecretStr | None = Field(None, description="Milvus token: 'user:password' or an API key")
    milvus_tls_ca_file: Path | None = Field(None, description="CA (server PEM) for https:// Milvus URIs")
    milvus_tls_server_name: str | None = Field(None, description="TLS server name when it differs from the host")

    # --- observability ---------------------------------------------------------
    metrics_host: str = Field("127.0.0.1", description="address the Prometheus endpoint binds")
    metrics_port: int = Field(0, ge=-1, le=65535, description="Prometheus port: 0 = any free port, -1 = off")

    # --- models --------------------------------------------------------------
    embedder: EmbedderName = Field("auto", description=(
        "embedding model: facenet, dlib, or auto (chosen from the weights installed; "
        "the choice is logged)"))
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    torch_threads: int = Field(0, ge=0, description=(
        "torch threads per model process; 0 = torch default (`up` gives each process 1)"))
    facenet_weights: Path | None = Field(None, description=(
        "InceptionResnetV1 weights (.pt; a name with 'casia' holds CASIA-WebFace weights, else "
        "VGGFace2); unset = the default place (`facestream models where facenet`)"))

    # --- detector ------------------------------------------------------------
    detect_max_side_px: int = Field(960, ge=160, description="larger frames are detected on a downscaled copy")
    min_face_px: int = Field(20, ge=8, description="smallest face side, in source pixels")
    detect_min_confidence: float = Field(0.90, ge=0.0, le=1.0, description="MTCNN faces below this "
                                         "confidence are dropped")
    # shot cuts are flagged by the grabber, so the frames detected do not depend on how many detector
    # processes share the work (issue 3, done-when 4); bench: `python -m bench` rows "detect every n-th"
    detect_every_n: int = Field(4, ge=1, description="run the detector on every n-th frame (and on shot cuts); "
                                "the tracker carries boxes in between; 1 = every frame")
    detect_max_every_n: int = Field(8, ge=1, description="live frames later than detect_lag_budget_ms: detect "
                                    "only every n-th (adaptive to load)")
    detect_lag_budget_ms: int = Field(250, ge=0, description="capture-to-detector age that counts as behind")
    detect_batch_frames: int = Field(0, ge=0, description="frames per detector batch; 0 = auto (8 on CUDA, 1 on CPU)")
    gpu_half: bool = Field(True, description="fp16 networks on CUDA (MTCNN, FaceNet); ignored on CPU")

    # --- tracker ------------------------------------------------------------
    tracker: Literal["face", "iou"] = Field("face", description="face: Kalman + ByteTrack-style "
                                                  "association; iou: plain IoU matching")
    track_iou_min: float = Field(0.2, gt=0.0, lt=1.0, description="IoU gate for association")
    track_high_confidence: float = Field(0.95, ge=0.0, le=1.0,
                                         description="faces below this only continue tracks, never start one")
    track_min_hits: int = Field(2, ge=1, description="detections before a track is confirmed")
    track_tentative_lost_s: float = Field(0.3, gt=0.0, description="an unconfirmed track unseen this long ends")
    track_max_lost_s: float = Field(1.0, gt=0.0, description="a confirmed track unseen this long ends (by motion)")
    track_reid_window_s: float = Field(5.0, gt=0.0,
                                       description="an ended track comes back under its id when its face does")
    track_reid_min_similarity: float | None = Field(None, description="cosine similarity for that; "
                                                    "unset = match threshold")
    embed_every_n: int = Field(10, ge=1, description="1 = embed every face of every frame; else best shots only")
    embed_budget_per_track: int = Field(6, ge=1, description="best shots embedded per track, beyond refreshes")
    embed_min_gap_s: float = Field(0.2, ge=0.0, description="least time between two best shots of "
                                   "one track")
    embed_refresh_s: float = Field(2.0, gt=0.0, description="a track is re-embedded this often whatever else")
    embed_max_per_live_frame: int = Field(
        1, ge=0, description="faces embedded per frame of a live source at most (new tracks first; 0 = no cap): "
                             "a burst of new faces must not make every later frame wait for the embedder")
    scene_cut_threshold: float = Field(0.25, gt=0.0, description="histogram distance that ends all tracks (>= 1 disables)")
    reorder_wait_s: float = Field(2.0, ge=0.0, description="how long the tracker waits for a missing live frame")
    reorder_wait_file_s: float = Field(
        75.0, ge=0.0, description="how long it waits for a missing file frame (> claim_idle_ms: reclaimed ones arrive)")

    # --- matcher ------------------------------------------------------------
    match_threshold: float | None = Field(None, description="cosine similarity to name a face; "
                                          "unset = the model's calibrated one")
    match_margin: float = Field(0.02, ge=0.0, description="best person must beat the second by this much")
    match_top_k: int = Field(10, ge=1, description=(
        "gallery vectors fetched per search; each person's best one among them is a vote"))
    unknown_below: float | None = Field(None, description="a track whose best mean stays under this is "
                                        "'unknown' (gets an unknown-... label); unset = the "
                                        "model's calibrated one")
    unknown_min_observations: int = Field(2, ge=1, description="embeddings before a track can be 'unknown'")

    # --- bus and ingest -----------------------------------------------------
    jpeg_quality: int = Field(90, ge=30, le=100, description=(
        "JPEG quality of frames and face chips on the bus"))
    max_in_flight_frames: int = Field(48, ge=1, description="file sources wait when this many frames are unfinished")
    stream_maxlen: int = Field(20_000, ge=100, description="approximate MAXLEN of intermediate streams")
    results_maxlen: int = Field(200_000, ge=100, description=(
        "approximate MAXLEN of the results stream fs:results"))
    read_count: int = Field(8, ge=1, description="entries per XREADGROUP")
    block_ms: int = Field(500, ge=10, description="how long a worker's read waits for new entries")
    claim_idle_ms: int = Field(30_000, ge=100, description="pending entries idle this long are reclaimed")
    max_deliveries: int = Field(3, ge=1, description="after this many deliveries an entry is dead-lettered")
    health_ttl_s: int = Field(15, ge=2, description=(
        "expiry of a worker's health key, renewed a few times per expiry; "
        "a worker whose key expired is dead"))
    redis_retry_max_s: float = Field(5.0, gt=0.0, description="cap of the reconnect backoff after a Redis error")

    # --- worker processes started by `facestream run` -------------------------
    detect_workers: int = Field(1, ge=1, description="detector processes that `run` keeps alive")
    embed_workers: int = Field(1, ge=1, description="embedder processes that `run` keeps alive")
    worker_restart_max_s: float = Field(10.0, gt=0.0, description="cap of the backoff before restarting a dead worker")
    worker_crash_loop: int = Field(3, ge=1, description="give up after this many deaths within 10 s of starting")
    stop_timeout_s: float = Field(
        60.0, gt=0.0, description="after Ctrl-C/SIGTERM, `run` waits this long for the frames in flight, then "
                                  "exits and says how many were not accounted for")

    # --- live sources (defaults of every camera; a cameras.toml sets them per camera) ---
    open_timeout_s: float = Field(10.0, gt=0.0, description="a source that does not open within this fails the attempt")
    stall_timeout_s: float = Field(5.0, gt=0.0, description="a live source with no frame this long is stalled")
    reconnect_initial_s: float = Field(0.5, gt=0.0, description="first reconnect delay; doubles per failed attempt")
    reconnect_max_s: float = Field(3.0, gt=0.0, description="cap of the reconnect delay (jitter +-20% on top)")
    max_age_s: float = Field(1.5, gt=0.0, description="live frames older than this are skipped (counted stale)")
    live_max_in_flight_frames: int = Field(3, ge=1, description="a live grabber skips frames while this many are unfinished")
    rtsp_transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP over TCP (default) or UDP")


def read_config_file(path: Path) -> dict:
    """A TOML (or JSON) settings file: top-level keys are Settings fields."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"--config: expected a readable TOML or JSON file, got {path} ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"--config {path}: expected TOML (or .json), got a parse error: {exc}") from None
    unknown = sorted(set(data) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(f"--config {path}: unknown settings {unknown}; expected names from config/settings.py")
    return data


def load_settings(config_file: Path | None = None, **overrides: object) -> Settings:
    """Settings: explicit (CLI) values over FACESTREAM_* variables over the config file over defaults.

    None means 'not given'.
    """
    values: dict = {}
    if config_file is not None:
        values = {k: v for k, v in read_config_file(config_file).items()
                  if f"FACESTREAM_{k.upper()}" not in os.environ}
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {_shown(e)})"
                             for e in exc.errors())
        raise ConfigError(f"settings: {problems}") from None


def _shown(error: ErrorDetails) -> str:
    """The rejected value for an error message, except for secrets."""
    if any(str(part) in SECRET_FIELDS for part in error["loc"]):
        return "a value (hidden)"
    return scrub(repr(error.get("input")))


SECRET_FIELDS = ("milvus_token",)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as FACESTREAM_* variables (secrets revealed: for child processes only)."""
    env = {}
    for name, value in settings.model_dump(mode="json").items():
        raw = getattr(settings, name)
        if isinstance(raw, SecretStr):
            value = raw.get_secret_value()
        if value is not None:
            env[f"FACESTREAM_{name.upper()}"] = str(value)
    return env
