"""All tunables in one validated object.

Every field can be set as an environment variable ``FACESTREAM_<FIELD>`` or as a
command-line option of the same name; units are part of the names (``_s``,
``_ms``, ``_px``) so that nobody has to guess them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from config.errors import ConfigError

EmbedderName = Literal["auto", "facenet", "dlib"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FACESTREAM_", extra="forbid")

    # --- where things live -------------------------------------------------
    data_dir: Path = Field(Path(".facestream"), description="all embedded state lives here")
    redis_url: str | None = Field(None, description="external Redis; unset = embedded server")
    milvus_uri: str | None = Field(None, description="external Milvus; unset = embedded milvus-lite")

    # --- models --------------------------------------------------------------
    embedder: EmbedderName = "auto"
    device: str = Field("auto", description="auto, cpu, cuda or cuda:N")
    torch_threads: int = Field(0, ge=0, description="0 = torch default")
    facenet_weights: Path | None = Field(None, description="InceptionResnetV1 vggface2 .pt file")

    # --- detector ------------------------------------------------------------
    detect_max_side_px: int = Field(960, ge=160, description="larger frames are detected on a downscaled copy")
    min_face_px: int = Field(20, ge=8, description="smallest face side, in source pixels")
    detect_min_confidence: float = Field(0.90, ge=0.0, le=1.0)
    detect_every_n: int = Field(4, ge=1, description="run the detector on every n-th frame (and on shot cuts); "
                                "the tracker carries boxes in between")
    detect_max_every_n: int = Field(8, ge=1, description="live frames later than detect_lag_budget_ms: detect "
                                    "only every n-th (adaptive to load)")
    detect_lag_budget_ms: int = Field(250, ge=0, description="capture-to-detector age that counts as behind")
    detect_batch_frames: int = Field(0, ge=0, description="frames per detector batch; 0 = auto (8 on CUDA, 1 on CPU)")
    gpu_half: bool = Field(True, description="fp16 networks on CUDA (MTCNN, FaceNet); ignored on CPU")

    # --- tracker ------------------------------------------------------------
    track_iou_min: float = Field(0.25, gt=0.0, lt=1.0, description="IoU gate for association")
    track_max_lost_s: float = Field(1.0, gt=0.0, description="a track unseen this long ends")
    embed_every_n: int = Field(10, ge=1, description="re-embed a track every n-th face (1 = every face)")
    embed_settled_hits: int = Field(30, ge=0, description="after this many detections a track is settled and is "
                                    "re-embedded every embed_every_n_settled-th face only (0 = never settles)")
    embed_every_n_settled: int = Field(60, ge=1, description="re-embed interval of a settled track, in faces")
    scene_cut_threshold: float = Field(0.25, gt=0.0, description="histogram distance that ends all tracks (>= 1 disables)")
    reorder_wait_s: float = Field(2.0, ge=0.0, description="how long the tracker waits for a missing frame")

    # --- matcher ------------------------------------------------------------
    match_threshold: float | None = Field(None, description="cosine similarity to name a face; unset = model default")
    match_margin: float = Field(0.02, ge=0.0, description="best person must beat the second by this much")
    match_top_k: int = Field(10, ge=1)

    # --- bus and ingest -----------------------------------------------------
    jpeg_quality: int = Field(90, ge=30, le=100)
    max_in_flight_frames: int = Field(48, ge=1, description="file sources wait when this many frames are unfinished")
    stream_maxlen: int = Field(20_000, ge=100, description="approximate MAXLEN of intermediate streams")
    results_maxlen: int = Field(200_000, ge=100)
    read_count: int = Field(8, ge=1, description="entries per XREADGROUP")
    block_ms: int = Field(500, ge=10)
    claim_idle_ms: int = Field(30_000, ge=100, description="pending entries idle this long are reclaimed")
    max_deliveries: int = Field(3, ge=1, description="after this many deliveries an entry is dead-lettered")
    health_ttl_s: int = Field(15, ge=2)


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit (CLI) values on top; None means 'not given'."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']} (got {e.get('input')!r})"
                             for e in exc.errors())
        raise ConfigError(f"settings: {problems}") from None
