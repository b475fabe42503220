"""Face detection with facenet-pytorch's MTCNN (weights ship inside the wheel)."""

from __future__ import annotations

import logging

import cv2
import numpy as np

from tracker.faces import Faces

log = logging.getLogger(__name__)


class MtcnnDetector:
    """RGB frame -> ``Faces`` with boxes, confidences and 5 landmarks, in source pixels.

    Frames whose long side exceeds ``max_side_px`` are detected on a downscaled
    copy: MTCNN's cost grows with the pixel count, and faces smaller than
    ``min_face_px`` are not worth finding anyway.
    """

    def __init__(self, device: str = "cpu", min_face_px: int = 20, max_side_px: int = 960,
                 min_confidence: float = 0.9):
        from facenet_pytorch import MTCNN

        self.mtcnn = MTCNN(keep_all=True, device=device, min_face_size=min_face_px, post_process=False)
        self.min_face_px = min_face_px
        self.max_side_px = max_side_px
        self.min_confidence = min_confidence
        log.info("MTCNN detector on %s (max side %d px, min face %d px)", device, max_side_px, min_face_px)

    def detect(self, rgb: np.ndarray) -> Faces:
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side_px / max(h, w))
        small = rgb if scale == 1.0 else cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        # the minimum face size applies in the downscaled copy; MTCNN cannot go below 12 px
        self.mtcnn.min_face_size = max(12, int(self.min_face_px * scale))
        boxes, probs, landmarks = self.mtcnn.detect(small, landmarks=True)
        if boxes is None:
            return Faces.empty()
        faces = Faces(boxes, probs, landmarks).scaled(1.0 / scale)
        keep = faces.confidence >= self.min_confidence
        side = np.minimum(faces.xyxy[:, 2] - faces.xyxy[:, 0], faces.xyxy[:, 3] - faces.xyxy[:, 1])
        keep &= side >= self.min_face_px * 0.8  # MTCNN's scale pyramid is coarse: keep near-misses
        # boxes of faces at the border may extend past the frame: kept as they are, because
        # the aligner and the tracker's motion model want the whole face; results clip them
        return faces[keep]
