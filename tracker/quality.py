"""Best-shot quality of a face, from what the detector already has: size, sharpness, frontality.

Each term is in [0, 1] and the quality is their product, so one bad term (a
20 px face, a blurred one, a profile) is enough to make a shot poor:

- size: the shorter box side over ``full_size_px`` (dlib and FaceNet embed
  150-160 px chips: detail beyond ~100 px of face adds little);
- sharpness: variance of the Laplacian ``s`` of the face, as ``s / (s + half_sharpness)``;
- frontality: from the 5 MTCNN landmarks, how far the nose sits from the
  eyes' midline (yaw) and how asymmetric the eye-mouth distances are; a
  profile face scores near 0.
"""

from __future__ import annotations

import numpy as np

from tracker.faces import Faces


def frontality(landmarks: np.ndarray) -> np.ndarray:
    """``(N, 5, 2)`` landmarks (eyes, nose, mouth corners) -> ``(N,)`` scores in [0, 1]."""
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)
    left_eye, right_eye, nose, mouth_l, mouth_r = (lm[:, i] for i in range(5))
    eye_mid = (left_eye + right_eye) / 2
    mouth_mid = (mouth_l + mouth_r) / 2
    axis = mouth_mid - eye_mid  # the face's vertical axis, robust to roll
    length = np.linalg.norm(axis, axis=1)
    ok = length > 1e-6
    unit = np.divide(axis, length[:, None], out=np.zeros_like(axis), where=ok[:, None])
    normal = np.stack([unit[:, 1], -unit[:, 0]], axis=1)
    eye_dist = np.linalg.norm(right_eye - left_eye, axis=1)
    # yaw: the nose's sideways offset from the axis, in eye distances (0 frontal, ~0.5 profile)
    offset = np.abs(((nose - eye_mid) * normal).sum(axis=1)) / np.maximum(eye_dist, 1e-6)
    yaw = np.clip(1.0 - 2.0 * offset, 0.0, 1.0)
    # a profile face also has its eyes close together relative to the face's height
    spread = np.clip(eye_dist / np.maximum(length, 1e-6) / 1.0, 0.0, 1.0)
    return np.where(ok, yaw * np.sqrt(spread), 0.0)


def face_quality(
    faces: Faces,
    sharpness: np.ndarray | None = None,
    *,
    full_size_px: float = 100.0,
    half_sharpness: float = 50.0,
) -> np.ndarray:
    """``(N,)`` quality in [0, 1]; terms without data (no landmarks, no sharpness) count as 1."""
    n = len(faces)
    if n == 0:
        return np.zeros((0,), np.float32)
    wh = np.clip(faces.xyxy[:, 2:] - faces.xyxy[:, :2], 0, None)
    q = np.clip(wh.min(axis=1) / full_size_px, 0.0, 1.0).astype(np.float64)
    if faces.landmarks is not None:
        q *= frontality(faces.landmarks)
    if sharpness is not None and len(sharpness) == n:
        s = np.clip(np.asarray(sharpness, np.float64), 0.0, None)
        q *= s / (s + half_sharpness)
    return q.astype(np.float32)
