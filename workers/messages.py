"""THE schema: one message type per frame, enriched stage by stage.

A frame travels ingest -> detect -> track -> embed -> match as one ``FrameMsg``.
Each stage fills its fields and clears the heavy ones it consumed (the detector
drops the JPEG, the embedder drops the crops), so that nothing is joined later:
the matcher sees every tracked face of a frame together with the embeddings
computed for it. ``kind == "eos"`` marks the end of a file source; its ``seq``
is the number of frames the source had.

``chips`` are JPEG crops around faces, aligned with ``embed_idx`` (indices into
``faces``); ``chip_origin``/``chip_scale`` map source pixels into a chip:
``chip_xy = (source_xy - origin) * scale``. ``embeddings`` are aligned with
``embed_idx`` too.

Results are plain dicts (see ``result_record`` / ``event_record``) so that any
msgpack reader can consume ``fs:results`` without this package.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from config.errors import MessageError
from tracker.faces import Faces
from workers import codec

SCHEMA_VERSION = 1
KINDS = ("frame", "eos")
MAX_SEQ = 1 << 40  # 35 years of frames at 1000 fps


def _ints(values: object, name: str) -> list[int]:
    if not isinstance(values, (list, tuple)) or not all(type(v) is int for v in values):
        raise MessageError(f"message field {name!r}: expected a list of integers, got {values!r:.80}")
    return list(values)


def _coords(values: object, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Chip placement numbers as float32 in ``shape``; a NaN, an infinity or an absurd size is malformed
    (cast to float32 it would become inf and poison the arithmetic downstream)."""
    arr = np.asarray(values, np.float64)
    if arr.size and not (np.isfinite(arr).all() and np.abs(arr).max() < 1e9):
        raise MessageError(f"message field {name!r}: expected finite numbers below 1e9")
    return arr.astype(np.float32).reshape(shape)


def _want(d: dict, name: str, types: type | tuple[type, ...]) -> Any:
    if name not in d:
        raise MessageError(f"message field {name!r}: expected {types}, got nothing")
    value = d[name]
    if not isinstance(value, types):
        raise MessageError(f"message field {name!r}: expected {types}, got {type(value).__name__}")
    return value


@dataclass(frozen=True, eq=False)
class FrameMsg:
    camera: str
    run: str  # one id per start of a source; a new run resets per-camera state downstream
    seq: int  # 0-based frame index in the source (files) or in the run (live)
    ts: float  # seconds from the source's start (files) or wall-clock epoch (live)
    capture_time: float  # epoch seconds when the grabber decoded it (latency is measured from here)
    width: int
    height: int
    kind: str = "frame"
    jpeg: bytes | None = None
    faces: Faces = field(default_factory=Faces.empty)
    embed_idx: tuple[int, ...] = ()
    chips: tuple[bytes, ...] = ()
    chip_origin: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    chip_scale: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    track_ids: tuple[str, ...] = ()
    embeddings: np.ndarray | None = None
    model: str | None = None
    ended: tuple[str, ...] = ()
    scene: np.ndarray | None = None  # small colour histogram of the frame, for shot-cut detection
    cut: bool = False  # the grabber saw a shot cut since the frame it published before this one
    dropped: str | None = None  # reason when this frame could not be processed; it still flows on
    max_age_s: float | None = None  # live sources: skip the frame once capture_time is older (None: files)
    detected: bool = True  # False: detection skipped (detect_every_n); the tracker carries its boxes over

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise MessageError(f"message field 'kind': expected one of {KINDS}, got {self.kind!r}")
        if not 0 <= self.seq < MAX_SEQ:
            raise MessageError(f"message field 'seq': expected 0 <= seq < {MAX_SEQ}, got {self.seq}")
        if self.max_age_s is not None and not isinstance(self.max_age_s, (int, float)):
            raise MessageError(f"message field 'max_age_s': expected a number, got {type(self.max_age_s).__name__}")
        n = len(self.faces)
        if any(not 0 <= i < n for i in self.embed_idx):
            raise MessageError(f"message field 'embed_idx': expected indices < {n}, got {list(self.embed_idx)}")
        if self.chips and len(self.chips) != len(self.embed_idx):
            raise MessageError(f"message field 'chips': expected {len(self.embed_idx)}, got {len(self.chips)}")
        if self.track_ids and len(self.track_ids) != n:
            raise MessageError(f"message field 'track_ids': expected {n}, got {len(self.track_ids)}")
        if any(not isinstance(c, bytes) for c in self.chips):
            raise MessageError("message field 'chips': expected JPEG bytes for every chip")
        if self.chips and (len(self.chip_origin) != len(self.chips) or len(self.chip_scale) != len(self.chips)):
            raise MessageError(f"message fields 'chip_origin'/'chip_scale': expected {len(self.chips)} rows, "
                               f"got {len(self.chip_origin)}/{len(self.chip_scale)}")
        if self.embeddings is not None and (not isinstance(self.embeddings, np.ndarray) or self.embeddings.ndim != 2):
            raise MessageError(f"message field 'embeddings': expected a 2-d array, got {type(self.embeddings).__name__}")
        if self.embeddings is not None and len(self.embeddings) != len(self.embed_idx):
            raise MessageError(
                f"message field 'embeddings': expected {len(self.embed_idx)} rows, got {len(self.embeddings)}"
            )

    def evolve(self, **changes: Any) -> FrameMsg:
        return replace(self, **changes)

    # --- wire format -------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        d: dict[str, Any] = {"v": SCHEMA_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "faces":
                value = {"xyxy": value.xyxy, "confidence": value.confidence, "landmarks": value.landmarks}
            elif isinstance(value, tuple):
                value = list(value)
            d[f.name] = value
        return codec.encode(d)

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameMsg:
        d = codec.decode(data)
        if not isinstance(d, dict):
            raise MessageError(f"message: expected a map, got {type(d).__name__}")
        version = d.get("v")
        if type(version) is not int or version != SCHEMA_VERSION:
            raise MessageError(f"message field 'v': expected {SCHEMA_VERSION}, got {version!r}")
        faces_d = _want(d, "faces", dict)
        try:
            faces = Faces(faces_d["xyxy"], faces_d["confidence"], faces_d.get("landmarks"))
            return cls(
                camera=_want(d, "camera", str),
                run=_want(d, "run", str),
                seq=_want(d, "seq", int),
                ts=float(_want(d, "ts", (int, float))),
                capture_time=float(_want(d, "capture_time", (int, float))),
                width=_want(d, "width", int),
                height=_want(d, "height", int),
                kind=_want(d, "kind", str),
                jpeg=d.get("jpeg"),
                faces=faces,
                embed_idx=tuple(_ints(d.get("embed_idx", ()), "embed_idx")),
                chips=tuple(d.get("chips", ())),
                chip_origin=_coords(d.get("chip_origin", np.zeros((0, 2))), "chip_origin", (-1, 2)),
                chip_scale=_coords(d.get("chip_scale", np.zeros((0,))), "chip_scale", (-1,)),
                track_ids=tuple(d.get("track_ids", ())),
                embeddings=d.get("embeddings"),
                model=d.get("model"),
                ended=tuple(d.get("ended", ())),
                scene=d.get("scene"),
                cut=bool(d.get("cut", False)),
                dropped=d.get("dropped"),
                max_age_s=d.get("max_age_s"),
                detected=bool(d.get("detected", True)),
            )
        except MessageError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise MessageError(f"message: malformed ({type(exc).__name__}: {exc})") from exc


def result_record(msg: FrameMsg, i: int, name: str | None, score: float, person_id: str | None) -> dict:
    """One tracked face in one processed frame (the documented results schema)."""
    x1, y1, x2, y2 = msg.faces.xyxy[i].clip(0, [msg.width, msg.height, msg.width, msg.height]).round(1).tolist()
    return {
        "camera": msg.camera,
        "frame": msg.seq,
        "ts": round(msg.ts, 3),
        "track_id": msg.track_ids[i],
        "name": name,
        "person_id": person_id,
        "score": round(float(score), 4),
        "bbox": [x1, y1, x2, y2],
        "capture_time": msg.capture_time,
    }


def event_record(event: str, camera: str, frame: int, ts: float, track_id: str, name: str | None,
                 score: float) -> dict:
    """A lifecycle record: event in {start, identified, end}; frame/ts where it happened."""
    return {
        "event": event,
        "camera": camera,
        "frame": frame,
        "ts": round(ts, 3),
        "track_id": track_id,
        "name": name,
        "score": round(float(score), 4),
    }
