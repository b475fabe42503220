"""Face chips: crops around detected faces, the only pixels that travel past the detector.

A chip is a margin-padded crop, downscaled so that the face is at most
``max_face_px`` wide. Each embedder aligns inside the chip in its own way (dlib
with its 5-point shape model, FaceNet with a box crop), so the detector stays
independent of the embedder. ``chip_xy = (source_xy - origin) * scale``.
"""

from __future__ import annotations

import cv2
import numpy as np

from config.errors import ImageError
from tracker.faces import Faces

MARGIN = 0.4  # of the face size, on each side: room for alignment and for FaceNet's margin
MAX_FACE_PX = 200  # dlib uses 150 px chips, FaceNet 160 px: more detail than this is wasted


def make_chips(rgb: np.ndarray, faces: Faces) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    h, w = rgb.shape[:2]
    chips, origins, scales = [], [], []
    for x1, y1, x2, y2 in faces.xyxy:
        side = max(x2 - x1, y2 - y1, 1.0)
        cx0 = int(max(0, np.floor(x1 - MARGIN * side)))
        cy0 = int(max(0, np.floor(y1 - MARGIN * side)))
        cx1 = int(min(w, np.ceil(x2 + MARGIN * side)))
        cy1 = int(min(h, np.ceil(y2 + MARGIN * side)))
        crop = rgb[cy0 : max(cy1, cy0 + 1), cx0 : max(cx1, cx0 + 1)]
        scale = min(1.0, MAX_FACE_PX / side)
        if scale < 1.0:
            crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        chips.append(np.ascontiguousarray(crop))
        origins.append((cx0, cy0))
        scales.append(scale)
    return chips, np.asarray(origins, np.float32).reshape(-1, 2), np.asarray(scales, np.float32)


def to_chip_coords(faces: Faces, origin: np.ndarray, scale: np.ndarray) -> Faces:
    """Boxes (and landmarks) of ``faces`` in the coordinates of their own chips."""
    xyxy = (faces.xyxy - np.tile(origin, 2)) * scale[:, None]
    lm = None
    if faces.landmarks is not None:
        lm = (faces.landmarks - origin[:, None, :]) * scale[:, None, None]
    return Faces(xyxy, faces.confidence, lm)


def encode_jpeg(rgb: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise ImageError(f"JPEG encode failed for an image of shape {rgb.shape}")
    return buf.tobytes()


def decode_jpeg(data: bytes) -> np.ndarray:
    """JPEG/PNG bytes -> RGB uint8; ImageError when the bytes are not an image."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    if bgr is None:
        raise ImageError(f"image: expected JPEG/PNG bytes, got {len(data)} undecodable bytes")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def read_image(path: str) -> np.ndarray:
    """A photo file -> RGB uint8 (alpha dropped, greyscale expanded)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ImageError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        return decode_jpeg(data)
    except ImageError:
        raise ImageError(f"{path}: not a readable image ({len(data)} bytes)") from None
