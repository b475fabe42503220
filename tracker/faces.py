"""``Faces``: the one columnar type for faces, from detector to matcher.

Like supervision's ``Detections``: parallel arrays, validated on construction,
indexing by mask/slice/indices returns a new ``Faces``; an empty set has ``(0, 4)``
boxes, never ``None``. Optional columns are ``None`` when absent for all rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from config.errors import MessageError


def _check(name: str, array: np.ndarray, shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(want is None or want == got for want, got in zip(shape, array.shape))
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise MessageError(f"Faces.{name}: expected shape {want}, got {tuple(array.shape)}")


@dataclass(frozen=True, eq=False)
class Faces:
    xyxy: np.ndarray  # (N, 4) float32, source pixels
    confidence: np.ndarray  # (N,) float32
    landmarks: np.ndarray | None = None  # (N, 5, 2) float32: eyes, nose, mouth corners
    embeddings: np.ndarray | None = None  # (N, D) float32, L2-normalised

    def __post_init__(self) -> None:
        object.__setattr__(self, "xyxy", np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4))
        object.__setattr__(self, "confidence", np.asarray(self.confidence, dtype=np.float32).reshape(-1))
        n = len(self.xyxy)
        _check("confidence", self.confidence, (n,))
        if self.landmarks is not None:
            object.__setattr__(self, "landmarks", np.asarray(self.landmarks, dtype=np.float32))
            _check("landmarks", self.landmarks, (n, 5, 2))
        if self.embeddings is not None:
            object.__setattr__(self, "embeddings", np.asarray(self.embeddings, dtype=np.float32))
            _check("embeddings", self.embeddings, (n, None))

    @classmethod
    def empty(cls) -> Faces:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: int | slice | np.ndarray | list[int]) -> Faces:
        if isinstance(index, int):
            index = [index]
        return Faces(
            self.xyxy[index],
            self.confidence[index],
            None if self.landmarks is None else self.landmarks[index],
            None if self.embeddings is None else self.embeddings[index],
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
        )
