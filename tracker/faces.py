"""``Faces``: the one columnar type for faces, from detector to matcher.

Like supervision's ``Detections``: parallel arrays, validated on construction,
indexing by mask/slice/indices returns a new ``Faces``; an empty set has ``(0, 4)``
boxes, never ``None``. Optional columns are ``None`` when absent for all rows:
the detector fills ``landmarks`` and ``sharpness`` (it has the pixels, nobody
after it decodes them again), the tracker ``track_ids``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from config.errors import MessageError


def _check(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(
        want is None or want == got for want, got in zip(shape, array.shape, strict=True)
    )
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise MessageError(f"Faces.{name}: expected shape {want}, got {tuple(array.shape)}")


@dataclass(frozen=True, eq=False)
class Faces:
    xyxy: np.ndarray  # (N, 4) float32, source pixels
    confidence: np.ndarray  # (N,) float32
    landmarks: np.ndarray | None = None  # (N, 5, 2) float32: eyes, nose, mouth corners
    embeddings: np.ndarray | None = None  # (N, D) float32, L2-normalised
    sharpness: np.ndarray | None = (
        None  # (N,) float32: variance of the Laplacian (workers/quality.py)
    )
    track_ids: tuple[str, ...] | None = None  # (N,) the tracker's id of each face

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(
            self, "confidence", np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        )
        n = len(self.xyxy)
        _check("confidence", self.confidence, (n,))
        if self.landmarks is not None:
            object.__setattr__(self, "landmarks", np.asarray(self.landmarks, dtype=np.float32))
            _check("landmarks", self.landmarks, (n, 5, 2))
        if self.embeddings is not None:
            object.__setattr__(self, "embeddings", np.asarray(self.embeddings, dtype=np.float32))
            _check("embeddings", self.embeddings, (n, None))
        if self.sharpness is not None:
            object.__setattr__(self, "sharpness", np.asarray(self.sharpness, dtype=np.float32))
            _check("sharpness", self.sharpness, (n,))
        if self.track_ids is not None:
            ids = self.track_ids
            if not isinstance(ids, (list, tuple)) or not all(isinstance(t, str) for t in ids):
                raise MessageError(f"Faces.track_ids: expected a list of strings, got {ids!r:.80}")
            if len(ids) != n:
                raise MessageError(f"Faces.track_ids: expected {n} ids, got {len(ids)}")
            object.__setattr__(self, "track_ids", tuple(ids))

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | np.ndarray | list[int]) -> Faces:
        if isinstance(index, int):
            index = [index]
        ids = None
        if self.track_ids is not None:
            ids = tuple(np.asarray(self.track_ids, dtype=object).reshape(-1)[index].tolist())
        return Faces(
            self.xyxy[index],
            self.confidence[index],
            None if self.landmarks is None else self.landmarks[index],
            None if self.embeddings is None else self.embeddings[index],
            None if self.sharpness is None else self.sharpness[index],
            ids,
        )

    @property
    def area(self) -> np.ndarray:
        wh = np.clip(self.xyxy[:, 2:] - self.xyxy[:, :2], 0, None)
        return wh[:, 0] * wh[:, 1]

    def scaled(self, factor: float) -> Faces:
        """Boxes and landmarks multiplied by ``factor`` (to map a downscaled copy back)."""
        return Faces(
            self.xyxy * factor,
            self.confidence,
            None if self.landmarks is None else self.landmarks * factor,
            self.embeddings,
            self.sharpness,
            self.track_ids,
        )

    def tracked(self, track_ids: list[str] | tuple[str, ...]) -> Faces:
        """The same faces with the tracker's id of each."""
        return Faces(
            self.xyxy,
            self.confidence,
            self.landmarks,
            self.embeddings,
            self.sharpness,
            tuple(track_ids),
        )
