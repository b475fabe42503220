"""THE schema: one message type per frame, in sections, enriched stage by stage.

A frame travels ingest -> detect -> track -> embed -> match as one ``FrameMsg``:

- ``meta`` (``FrameMeta``): what the grabber knows about the frame; never changes;
- ``status``: ``frame``, ``eos`` (the end of a file source; ``seq`` is then the
  number of frames the source had) or ``dropped`` (with a ``reason``: the frame
  could not be processed but still flows on, so that it is accounted for);
- ``jpeg`` and ``scene``: the frame's pixels and colour histogram, until the
  detector (pixels) and the tracker (histogram, for shot cuts) have used them;
- ``faces`` (``Faces``): every face of the frame, with the detector's sharpness
  and, once tracked, the tracker's id of each;
- ``shots`` (``Shots``): the K rows of ``faces`` that are embedded, with their
  face chips until the embedder, and their embeddings after it;
- ``ended``: tracker ids that ended at this frame.

Stages change a message only through its named transitions (``drop``,
``detected``, ``undetected``, ``tracked``, ``embedded``), each of which says
what the next stage may rely on, so that nothing is joined later: the matcher
sees every tracked face of a frame together with the embeddings computed for it.
Result records are built in ``workers/results.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from config.errors import MessageError
from tracker.faces import Faces
from workers import codec

SCHEMA_VERSION = 2  # 2: sections (frame, faces, shots), status instead of kind + dropped
FRAME, EOS, DROPPED = "frame", "eos", "dropped"
STATUSES = (FRAME, EOS, DROPPED)
MAX_SEQ = 1 << 40  # 35 years of frames at 1000 fps


def _ints(values: object, name: str) -> tuple[int, ...]:
    if not isinstance(values, (list, tuple)) or not all(type(v) is int for v in values):
        raise MessageError(
            f"message field {name!r}: expected a list of integers, got {values!r:.80}"
        )
    return tuple(values)


def _coords(values: object, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Chip placement numbers as float32 in ``shape``; a NaN, an infinity or an absurd size is
    malformed (cast to float32 it would become inf and poison the arithmetic downstream)."""
    arr = np.asarray(values, np.float64)
    if arr.size and not (np.isfinite(arr).all() and np.abs(arr).max() < 1e9):
        raise MessageError(f"message field {name!r}: expected finite numbers below 1e9")
    return arr.astype(np.float32).reshape(shape)


def _want(d: dict, name: str, types: type | tuple[type, ...], section: str = "") -> Any:
    where = f"{section}.{name}" if section else name
    if name not in d:
        raise MessageError(f"message field {where!r}: expected {types}, got nothing")
    value = d[name]
    if not isinstance(value, types):
        raise MessageError(f"message field {where!r}: expected {types}, got {type(value).__name__}")
    return value


def _optional(d: dict, name: str, types: type | tuple[type, ...], section: str) -> Any:
    return None if d.get(name) is None else _want(d, name, types, section)


@dataclass(frozen=True)
class FrameMeta:
    """What the grabber knows about a frame; no stage changes it."""

    camera: str
    run: str  # one id per start of a source; a new run resets per-camera state downstream
    seq: int  # 0-based frame index in the source (files) or in the run (live)
    ts: float  # seconds from the source's start (files) or wall-clock epoch (live)
    capture_time: float  # epoch seconds when the grabber decoded it (latency is measured from here)
    width: int
    height: int
    max_age_s: float | None = (
        None  # live sources: skip the frame once capture_time is older (None: files)
    )
    cut: bool = False  # the grabber saw a shot cut since the frame it published before this one

    def __post_init__(self) -> None:
        if not 0 <= self.seq < MAX_SEQ:
            raise MessageError(
                f"message field 'frame.seq': expected 0 <= seq < {MAX_SEQ}, got {self.seq}"
            )
        if self.max_age_s is not None and not isinstance(self.max_age_s, (int, float)):
            raise MessageError(
                f"message field 'frame.max_age_s': expected a number, "
                f"got {type(self.max_age_s).__name__}"
            )


@dataclass(frozen=True, eq=False)
class Shots:
    """The rows of ``faces`` that are embedded: chips on the way to the embedder, vectors after it.

    ``origin``/``scale`` map source pixels into each chip:
    ``chip_xy = (source_xy - origin) * scale``."""

    rows: tuple[int, ...] = ()
    chips: tuple[bytes, ...] = ()  # JPEG, aligned with rows; empty after the embedder
    origin: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))
    scale: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    embeddings: np.ndarray | None = None  # (K, D), aligned with rows
    model: str | None = None  # the embedder that computed them

    def __post_init__(self) -> None:
        k = len(self.rows)
        if self.chips and len(self.chips) != k:
            raise MessageError(f"message field 'shots.chips': expected {k}, got {len(self.chips)}")
        if any(not isinstance(c, bytes) for c in self.chips):
            raise MessageError("message field 'shots.chips': expected JPEG bytes for every chip")
        if self.chips and (len(self.origin) != k or len(self.scale) != k):
            raise MessageError(
                f"message fields 'shots.origin'/'shots.scale': expected {k} rows, "
                f"got {len(self.origin)}/{len(self.scale)}"
            )
        emb = self.embeddings
        if emb is not None and (not isinstance(emb, np.ndarray) or emb.ndim != 2):
            raise MessageError(
                f"message field 'shots.embeddings': expected a 2-d array, got {type(emb).__name__}"
            )
        if emb is not None and len(emb) != k:
            raise MessageError(
                f"message field 'shots.embeddings': expected {k} rows, got {len(emb)}"
            )

    def take(self, positions: list[int], rows: list[int]) -> Shots:
        """The shots at ``positions`` (indices into these shots), renumbered to ``rows``."""
        return Shots(
            tuple(rows),
            tuple(self.chips[j] for j in positions) if self.chips else (),
            self.origin[positions],
            self.scale[positions],
        )


@dataclass(frozen=True, eq=False)
class FrameMsg:
    meta: FrameMeta
    status: str = FRAME
    reason: str | None = None  # why a dropped frame was dropped
    jpeg: bytes | None = None
    scene: np.ndarray | None = None  # small colour histogram of the frame, for shot-cut detection
    # False: detection skipped (detect_every_n); the tracker carries its boxes over the frame
    detector_ran: bool = True
    faces: Faces = field(default_factory=Faces.empty)
    shots: Shots = field(default_factory=Shots)
    ended: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise MessageError(
                f"message field 'status': expected one of {STATUSES}, got {self.status!r}"
            )
        if (self.status == DROPPED) != isinstance(self.reason, str):
            raise MessageError(
                f"message field 'reason': expected a reason exactly when dropped, got "
                f"{self.reason!r} with status {self.status!r}"
            )
        if self.status != FRAME and (len(self.faces) or self.shots.rows):
            raise MessageError(
                f"message field 'faces': expected none with status {self.status!r}, "
                f"got {len(self.faces)}"
            )
        n = len(self.faces)
        if any(not 0 <= i < n for i in self.shots.rows):
            raise MessageError(
                f"message field 'shots.rows': expected indices < {n}, got {list(self.shots.rows)}"
            )
        if self.ended and not all(isinstance(t, str) for t in self.ended):
            raise MessageError(
                f"message field 'ended': expected track id strings, got {self.ended!r:.80}"
            )

    # --- the frame's metadata, read through -------------------------------------------------
    camera = property(lambda self: self.meta.camera)
    run = property(lambda self: self.meta.run)
    seq = property(lambda self: self.meta.seq)
    ts = property(lambda self: self.meta.ts)
    capture_time = property(lambda self: self.meta.capture_time)
    width = property(lambda self: self.meta.width)
    height = property(lambda self: self.meta.height)
    max_age_s = property(lambda self: self.meta.max_age_s)
    cut = property(lambda self: self.meta.cut)

    @property
    def is_eos(self) -> bool:
        return self.status == EOS

    @property
    def dropped(self) -> str | None:
        """The reason when the frame was dropped, else None."""
        return self.reason if self.status == DROPPED else None

    @classmethod
    def end_of_stream(cls, meta: FrameMeta) -> FrameMsg:
        """The end of a source: ``meta.seq`` is the number of frames it had."""
        return cls(meta, status=EOS)

    # --- named transitions ---------------------------------------------------------------------
    def drop(self, reason: str) -> FrameMsg:
        """Not processed (stale, corrupt, never came): flows on with its reason, to be counted."""
        return FrameMsg(self.meta, status=DROPPED, reason=reason)

    def detected(self, faces: Faces, shots: Shots, scene: np.ndarray | None) -> FrameMsg:
        """The detector ran: its faces, with the chips of those to embed; the JPEG stops here."""
        return replace(self, jpeg=None, scene=scene, detector_ran=True, faces=faces, shots=shots)

    def undetected(self, scene: np.ndarray | None) -> FrameMsg:
        """Detection skipped (detect_every_n): the tracker carries its boxes over this frame."""
        return replace(
            self, jpeg=None, scene=scene, detector_ran=False, faces=Faces.empty(), shots=Shots()
        )

    def tracked(
        self, faces: Faces, shots: Shots = Shots(), ended: tuple[str, ...] = ()
    ) -> FrameMsg:
        """The tracker's faces (each with its track id), the shots it picked, the ended tracks."""
        if len(faces) and faces.track_ids is None:
            raise MessageError(
                "message field 'faces.track_ids': expected the id of every tracked face"
            )
        return replace(self, scene=None, faces=faces, shots=shots, ended=tuple(ended))

    def embedded(
        self, rows: list[int] | tuple[int, ...], vectors: np.ndarray | None, model: str | None
    ) -> FrameMsg:
        """The embedder's vectors for ``rows`` of faces (a subset of the shots); chips stop here."""
        return replace(self, shots=Shots(tuple(rows), embeddings=vectors, model=model))

    # --- wire format ---------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        m, f, s = self.meta, self.faces, self.shots
        return codec.encode(
            {
                "v": SCHEMA_VERSION,
                "frame": {
                    "camera": m.camera,
                    "run": m.run,
                    "seq": m.seq,
                    "ts": m.ts,
                    "capture_time": m.capture_time,
                    "width": m.width,
                    "height": m.height,
                    "max_age_s": m.max_age_s,
                    "cut": m.cut,
                },
                "status": self.status,
                "reason": self.reason,
                "jpeg": self.jpeg,
                "scene": self.scene,
                "detector_ran": self.detector_ran,
                "faces": {
                    "xyxy": f.xyxy,
                    "confidence": f.confidence,
                    "landmarks": f.landmarks,
                    "sharpness": f.sharpness,
                    "track_ids": None if f.track_ids is None else list(f.track_ids),
                },
                "shots": {
                    "rows": list(s.rows),
                    "chips": list(s.chips),
                    "origin": s.origin,
                    "scale": s.scale,
                    "embeddings": s.embeddings,
                    "model": s.model,
                },
                "ended": list(self.ended),
            }
        )

    @classmethod
    def from_bytes(cls, data: bytes) -> FrameMsg:
        d = codec.decode(data)
        if not isinstance(d, dict):
            raise MessageError(f"message: expected a map, got {type(d).__name__}")
        version = d.get("v")
        if type(version) is not int or version != SCHEMA_VERSION:
            raise MessageError(f"message field 'v': expected {SCHEMA_VERSION}, got {version!r:.40}")
        m = _want(d, "frame", dict)
        f = _want(d, "faces", dict)
        s = _want(d, "shots", dict)
        try:
            meta = FrameMeta(
                camera=_want(m, "camera", str, "frame"),
                run=_want(m, "run", str, "frame"),
                seq=_want(m, "seq", int, "frame"),
                ts=float(_want(m, "ts", (int, float), "frame")),
                capture_time=float(_want(m, "capture_time", (int, float), "frame")),
                width=_want(m, "width", int, "frame"),
                height=_want(m, "height", int, "frame"),
                max_age_s=_optional(m, "max_age_s", (int, float), "frame"),
                cut=bool(m.get("cut", False)),
            )
            track_ids = f.get("track_ids")
            sharpness = f.get("sharpness")
            faces = Faces(
                f["xyxy"],
                f["confidence"],
                f.get("landmarks"),
                None,
                # it divides in the shot quality: an infinity would make a NaN of it
                None if sharpness is None else _coords(sharpness, "faces.sharpness", (-1,)),
                None if track_ids is None else _want(f, "track_ids", list, "faces"),
            )
            shots = Shots(
                rows=_ints(s.get("rows", ()), "shots.rows"),
                chips=tuple(_want(s, "chips", list, "shots")),
                origin=_coords(s.get("origin", np.zeros((0, 2))), "shots.origin", (-1, 2)),
                scale=_coords(s.get("scale", np.zeros((0,))), "shots.scale", (-1,)),
                embeddings=s.get("embeddings"),
                model=_optional(s, "model", str, "shots"),
            )
            return cls(
                meta=meta,
                status=_want(d, "status", str),
                reason=_optional(d, "reason", str, ""),
                jpeg=_optional(d, "jpeg", bytes, ""),
                scene=_optional(d, "scene", np.ndarray, ""),
                detector_ran=bool(d.get("detector_ran", True)),
                faces=faces,
                shots=shots,
                ended=tuple(_want(d, "ended", list)),
            )
        except MessageError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            raise MessageError(f"message: malformed ({type(exc).__name__}: {exc})") from exc
