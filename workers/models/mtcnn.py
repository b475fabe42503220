"""Face detection with MTCNN (facenet-pytorch's networks; the weights ship inside the wheel)."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from tracker.faces import Faces
from workers.models.mtcnn_fast import MtcnnCascade

log = logging.getLogger(__name__)


class MtcnnDetector:
    """RGB frame(s) -> ``Faces`` with boxes, confidences and 5 landmarks, in source pixels.

    Frames whose long side exceeds ``max_side_px`` are detected on a downscaled
    copy: MTCNN's cost grows with the pixel count, and faces smaller than
    ``min_face_px`` are not worth finding anyway. ``detect_many`` runs frames of
    one size as one batch (what pays on a GPU; on a CPU it costs the same per frame).
    """

    def __init__(
        self,
        device: str = "cpu",
        min_face_px: int = 20,
        max_side_px: int = 960,
        min_confidence: float = 0.9,
        half: bool = False,
    ):
        self.cascade = MtcnnCascade(device, half=half)
        self.min_face_px = min_face_px
        self.max_side_px = max_side_px
        self.min_confidence = min_confidence
        log.info(
            "MTCNN detector on %s (max side %d px, min face %d px%s)",
            device,
            max_side_px,
            min_face_px,
            ", fp16" if self.cascade.dtype != self.cascade.torch.float32 else "",
        )

    def detect(self, rgb: np.ndarray) -> Faces:
        return self.detect_many([rgb])[0]

    def detect_many(self, frames: list[np.ndarray]) -> list[Faces]:
        out: list[Faces | None] = [None] * len(frames)
        by_shape: dict[tuple, list[int]] = {}
        for i, f in enumerate(frames):
            by_shape.setdefault(f.shape, []).append(i)
        for shape, idx in by_shape.items():
            h, w = shape[:2]
            scale = min(1.0, self.max_side_px / max(h, w))
            small = [
                frames[i]
                if scale == 1.0
                else cv2.resize(frames[i], None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                for i in idx
            ]
            # the minimum face size applies in the downscaled copy; MTCNN cannot go below 12 px
            min_face = max(12, int(self.min_face_px * scale))
            for i, (boxes, probs, landmarks) in zip(
                idx, self.cascade.detect(small, min_face), strict=True
            ):
                out[i] = self._keep(Faces(boxes, probs, landmarks).scaled(1.0 / scale))
        return out  # type: ignore[return-value]

    def _keep(self, faces: Faces) -> Faces:
        keep = faces.confidence >= self.min_confidence
        side = np.minimum(faces.xyxy[:, 2] - faces.xyxy[:, 0], faces.xyxy[:, 3] - faces.xyxy[:, 1])
        keep &= side >= self.min_face_px * 0.8  # MTCNN's scale pyramid is coarse: keep near-misses
        # boxes of faces at the border may extend past the frame: kept as they are, because
        # the aligner and the tracker's motion model want the whole face; results clip them
        return faces[keep]
