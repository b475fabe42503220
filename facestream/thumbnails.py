"""Small JPEG thumbnails of enrolled faces, kept in Redis next to the person's face counts.

The web pages show who is enrolled by their faces; the photos themselves are never kept, so a
thumbnail (96 px, the face's box with a margin) is cut when the face is enrolled. Erasing a person
deletes them with the rest of the person (facestream/erasure.py).
"""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
import redis

from workers import keys

SIZE = 96
MARGIN = 0.25  # of the box's size on each side: a bit of hair and chin, as people recognise faces


def key(person_id: str) -> str:
    """Hash face_id -> JPEG bytes."""
    return f"{keys.PREFIX}:person:{person_id}:thumbs"


def cut(rgb: np.ndarray, bbox: list[float]) -> bytes:
    """A square JPEG of the face at ``bbox`` (x1, y1, x2, y2) in an RGB image."""
    h, w = rgb.shape[:2]
    x1, y1, x2, y2 = bbox
    side = max(x2 - x1, y2 - y1) * (1 + 2 * MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    right, bottom = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    crop = rgb[top:bottom, left:right]
    if crop.size == 0:
        crop = rgb
    small = cv2.resize(crop, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    if not ok:
        raise ValueError(f"thumbnail: JPEG encoding failed for a crop of shape {crop.shape}")
    return jpeg.tobytes()


def store(client: redis.Redis, person_id: str, face_id: str, jpeg: bytes) -> None:
    client.hset(key(person_id), face_id, jpeg)


def first_of(
    client: redis.Redis, person_ids: list[str], per_person: int = 3
) -> dict[str, list[str]]:
    """Face ids with a thumbnail, a few per person, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for pid in person_ids:
        pipe.hkeys(key(pid))
    found = {}
    for pid, ids in zip(person_ids, pipe.execute(), strict=True):
        found[pid] = sorted(i.decode() if isinstance(i, bytes) else i for i in ids)[:per_person]
    return found


def get(client: redis.Redis, person_id: str, face_id: str) -> bytes | None:
    # thumbnails are read by a client without decode_responses: values are bytes
    return cast(bytes | None, client.hget(key(person_id), face_id))


def forget(client: redis.Redis, person_id: str, face_id: str | None = None) -> None:
    """One face's thumbnail, or all of the person's."""
    if face_id is None:
        client.delete(key(person_id))
    else:
        client.hdel(key(person_id), face_id)
