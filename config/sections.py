"""The sections of the settings, one per stage or concern, each handed to the part that uses it.

A section's fields are set as ``FACESTREAM_<SECTION>_<FIELD>`` (``FACESTREAM_DETECT_EVERY_N``) or
in a ``[section]`` table of the settings file. Each fact has its default here and nowhere else:
the tracker's parameter classes take theirs from these models.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Section(BaseModel):
    # a misspelt FACESTREAM_DETECT_EVRY_N or [detect] key is an error, not silently ignored
    model_config = ConfigDict(extra="forbid")


class DetectSettings(Section):
    """The face detector (MTCNN) and its worker processes."""

    workers: int = Field(default=1, ge=1, description="detector processes that `run` keeps alive")
    max_side_px: int = Field(
        default=960, ge=160, description=("larger frames are detected on a downscaled copy")
    )
    min_face_px: int = Field(default=20, ge=8, description="smallest face side, in source pixels")
    min_confidence: float = Field(
        default=0.90, ge=0.0, le=1.0, description=("MTCNN faces below this confidence are dropped")
    )
    # shot cuts are flagged by the grabber, so the frames detected do not depend on how many
    # detector processes share the work; bench: `python -m bench` rows "detect every n-th"
    every_n: int = Field(
        default=4,
        ge=1,
        description=(
            "run the detector on every n-th frame (and on shot cuts); the tracker carries boxes in "
            "between; 1 = every frame"
        ),
    )
    max_every_n: int = Field(
        default=8,
        ge=1,
        description=(
            "live frames later than lag_budget_ms: detect only every n-th (adaptive to load)"
        ),
    )
    lag_budget_ms: int = Field(
        default=250, ge=0, description=("capture-to-detector age that counts as behind")
    )
    batch_frames: int = Field(
        default=0, ge=0, description=("frames per detector batch; 0 = auto (8 on CUDA, 1 on CPU)")
    )


class TrackSettings(Section):
    """The tracker: association, track lifecycle, frame order."""

    kind: Literal["face", "iou"] = Field(
        default="face",
        description=("face: Kalman + ByteTrack-style association; iou: plain IoU matching"),
    )
    iou_min: float = Field(default=0.2, gt=0.0, lt=1.0, description="IoU gate for association")
    high_confidence: float = Field(
        default=0.95,
        ge=0.0,
        le=1.0,
        description=("faces below this only continue tracks, never start one"),
    )
    min_hits: int = Field(default=2, ge=1, description="detections before a track is confirmed")
    tentative_lost_s: float = Field(
        default=0.3, gt=0.0, description=("an unconfirmed track unseen this long ends")
    )
    max_lost_s: float = Field(
        default=1.0, gt=0.0, description=("a confirmed track unseen this long ends (by motion)")
    )
    reid_window_s: float = Field(
        default=5.0,
        gt=0.0,
        description=("an ended track comes back under its id when its face does"),
    )
    reid_min_similarity: float | None = Field(
        default=None, description=("cosine similarity for that; unset = match threshold")
    )
    reorder_wait_s: float = Field(
        default=2.0, ge=0.0, description=("how long the tracker waits for a missing live frame")
    )
    reorder_wait_file_s: float = Field(
        default=75.0,
        ge=0.0,
        description=(
            "how long it waits for a missing file frame (> bus.claim_idle_ms: reclaimed ones arrive)"
        ),
    )


class EmbedSettings(Section):
    """Which faces are embedded (the tracker picks them) and the embedder's worker processes."""

    workers: int = Field(default=1, ge=1, description="embedder processes that `run` keeps alive")
    every_n: int = Field(
        default=10, ge=1, description=("1 = embed every face of every frame; else best shots only")
    )
    budget_per_track: int = Field(
        default=6, ge=1, description=("best shots embedded per track, beyond refreshes")
    )
    min_gap_s: float = Field(
        default=0.2, ge=0.0, description=("least time between two best shots of one track")
    )
    refresh_s: float = Field(
        default=2.0, gt=0.0, description=("a track is re-embedded this often whatever else")
    )
    max_per_live_frame: int = Field(
        default=1,
        ge=0,
        description=(
            "faces embedded per frame of a live source at most (new tracks first; 0 = no cap): a "
            "burst of new faces must not make every later frame wait for the embedder"
        ),
    )


class MatchSettings(Section):
    """Naming faces: gallery search, vote, unknown labels."""

    threshold: float | None = Field(
        default=None,
        description=("cosine similarity to name a face; unset = the model's calibrated one"),
    )
    margin: float = Field(
        default=0.02, ge=0.0, description=("best person must beat the second by this much")
    )
    top_k: int = Field(
        default=10,
        ge=1,
        description=(
            "gallery vectors fetched per search; each person's best one among them is a vote"
        ),
    )
    unknown_below: float | None = Field(
        default=None,
        description=(
            "a track whose best mean stays under this is 'unknown' (gets an unknown-... label); "
            "unset = the model's calibrated one"
        ),
    )
    unknown_min_observations: int = Field(
        default=2, ge=1, description=("embeddings before a track can be 'unknown'")
    )


class BusSettings(Section):
    """Redis streams as every worker reads them: batches, claims, deliveries, health."""

    stream_maxlen: int = Field(
        default=20_000, ge=100, description=("approximate MAXLEN of intermediate streams")
    )
    results_maxlen: int = Field(
        default=200_000, ge=100, description=("approximate MAXLEN of the results stream fs:results")
    )
    read_count: int = Field(default=8, ge=1, description="entries per XREADGROUP")
    block_ms: int = Field(
        default=500, ge=10, description=("how long a worker's read waits for new entries")
    )
    claim_idle_ms: int = Field(
        default=30_000, ge=100, description=("pending entries idle this long are reclaimed")
    )
    max_deliveries: int = Field(
        default=3, ge=1, description=("after this many deliveries an entry is dead-lettered")
    )
    health_ttl_s: int = Field(
        default=15,
        ge=2,
        description=(
            "expiry of a worker's health key, renewed a few times per expiry; a worker whose key "
            "expired is dead"
        ),
    )
    shards: int = Field(
        default=1,
        ge=1,
        le=1024,
        description=(
            "streams per stage: each camera's keys and streams go to one (hash tag {N}), so a "
            "Redis Cluster spreads them; 1 keeps one stream per stage. Set it before the first "
            "run: a changed count leaves what is in flight behind"
        ),
    )
    redis_retry_max_s: float = Field(
        default=5.0, gt=0.0, description=("cap of the reconnect backoff after a Redis error")
    )


class LiveSettings(Section):
    """Live sources: the defaults of every camera (a cameras.toml sets them per camera)."""

    open_timeout_s: float = Field(
        default=10.0,
        gt=0.0,
        description=("a source that does not open within this fails the attempt"),
    )
    stall_timeout_s: float = Field(
        default=5.0, gt=0.0, description=("a live source with no frame this long is stalled")
    )
    reconnect_initial_s: float = Field(
        default=0.5, gt=0.0, description=("first reconnect delay; doubles per failed attempt")
    )
    reconnect_max_s: float = Field(
        default=3.0, gt=0.0, description=("cap of the reconnect delay (jitter +-20% on top)")
    )
    max_age_s: float = Field(
        default=1.5, gt=0.0, description=("live frames older than this are skipped (counted stale)")
    )
    max_in_flight_frames: int = Field(
        default=3, ge=1, description=("a live grabber skips frames while this many are unfinished")
    )
    rtsp_transport: Literal["tcp", "udp"] = Field(
        default="tcp", description=("RTSP over TCP (default) or UDP")
    )


class WorkerSettings(Section):
    """The worker processes that `facestream run` starts and keeps alive."""

    restart_max_s: float = Field(
        default=10.0, gt=0.0, description=("cap of the backoff before restarting a dead worker")
    )
    crash_loop: int = Field(
        default=3, ge=1, description=("give up after this many deaths within 10 s of starting")
    )
    stop_timeout_s: float = Field(
        default=60.0,
        gt=0.0,
        description=(
            "after Ctrl-C/SIGTERM, `run` waits this long for the frames in flight, then exits and "
            "says how many were not accounted for"
        ),
    )


class ApiSettings(Section):
    """The HTTP API (`facestream serve`): upload limits and the quality gate of enrolled faces."""

    port: int = Field(default=8080, ge=1, le=65535, description="port `up` serves the API on")
    max_upload_mb: float = Field(
        default=20.0, gt=0.0, description="largest image upload, in MB (10^6 bytes), per file"
    )
    max_image_pixels: int = Field(
        default=40_000_000,
        ge=1,
        description="images with more pixels (width x height) are refused before decoding",
    )
    max_files: int = Field(default=20, ge=1, description="most images in one upload")
    min_face_px: int = Field(
        default=60, ge=8, description="quality gate: smallest side of an enrolled face, in pixels"
    )
    # photos of ../shared/faces measure 600-1800; a Gaussian blur of sigma 4 brings them under 60
    min_sharpness: float = Field(
        default=100.0,
        ge=0.0,
        description="quality gate: variance of the Laplacian of the face at 64 px, at least",
    )
    min_frontality: float = Field(
        default=0.4, ge=0.0, le=1.0, description="quality gate: frontality from landmarks (0-1)"
    )
    min_confidence: float = Field(
        default=0.95, ge=0.0, le=1.0, description="quality gate: detector confidence, at least"
    )


class IndexSettings(Section):
    """Index mode: faces found in photos and videos, grouped by identity for review."""

    best_per_person: int = Field(
        default=5, ge=1, description="faces enrolled per person at a review commit, best first"
    )
    shots_per_track: int = Field(
        default=3, ge=1, description="a video track's best faces kept as candidates"
    )
    video_every_n: int = Field(
        default=2, ge=1, description="detect faces in every n-th frame of an indexed video"
    )
    linkage: Literal["average", "complete", "single"] = Field(
        default="average", description="agglomerative clustering linkage of the candidates"
    )
