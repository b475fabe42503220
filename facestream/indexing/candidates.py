"""Review candidates: every face found in a photo (or kept from a video track), as a small
thumbnail with its quality, source, embedding and a suggested name from the gallery."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from facestream.engine import FaceEngine
from tracker.faces import Faces
from tracker.identity import IdentityVote
from tracker.quality import face_quality
from workers.models.chips import encode_jpeg, read_image
from workers.quality import sharpness

if TYPE_CHECKING:  # pymilvus (with pandas, ~90 MiB) loads where a gallery is searched
    from workers.gallery import People, VectorIndex

log = logging.getLogger(__name__)
THUMB_PX = 112  # the thumbnail's side: enough for a person to recognise a face, small to keep
THUMB_MARGIN = 0.25  # of the face size on each side, so the whole head shows
THUMB_QUALITY = 85


@dataclass
class Candidate:
    cid: str  # stable for (source, frame, face): a resumed job writes the same ids again
    source: str
    frame: int  # 0 for a photo
    time_s: float  # 0 for a photo
    bbox: list[float]
    quality: float
    embedding: np.ndarray  # (D,) unit vector
    thumbnail: bytes  # THUMB_PX square JPEG
    track: str = ""  # a video's track id; every face of one track lands in one group
    suggested: str = ""  # the enrolled person this face matches, if any
    score: float = 0.0  # its similarity
    first_frame: int = 0  # the frames its track was seen in: faces seen together are two people
    last_frame: int = 0

    @property
    def seen(self) -> tuple[str, int, int]:
        return self.source, self.first_frame, self.last_frame


def candidate_id(source: str, frame: int, face: int) -> str:
    """The same face of the same file always gets the same id (a restarted job duplicates
    nothing); detection is deterministic for one image and one model."""
    digest = hashlib.sha1(f"{source}\0{frame}\0{face}".encode()).hexdigest()
    return "c-" + digest[:12]


def thumbnail(rgb: np.ndarray, box: np.ndarray) -> bytes:
    """A THUMB_PX square JPEG around the face (padded with black at the image border)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * THUMB_MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half = side / 2
    # affine crop: out-of-image parts come out black instead of shifting the face off centre
    scale = THUMB_PX / side
    matrix = np.array([[scale, 0, -(cx - half) * scale], [0, scale, -(cy - half) * scale]])
    crop = cv2.warpAffine(rgb, matrix, (THUMB_PX, THUMB_PX), flags=cv2.INTER_AREA)
    return encode_jpeg(crop, THUMB_QUALITY)


def qualities(rgb: np.ndarray, faces: Faces) -> np.ndarray:
    """Best-shot quality (size, sharpness, frontality) of each face: the tracker's measure."""
    return face_quality(faces, sharpness(rgb, faces.xyxy))


class Suggester:
    """Names faces against the enrolled gallery by the rule `identify` uses for one photo."""

    def __init__(self, people: People, index: VectorIndex, threshold: float, margin: float):
        self.people = people
        self.index = index
        self.threshold = threshold
        self.margin = margin

    def suggest(self, embeddings: np.ndarray) -> list[tuple[str, float]]:
        if len(embeddings) == 0:
            return []
        decisions = []
        for scores in self.index.search(embeddings):
            vote = IdentityVote(self.threshold, self.margin)
            vote.add(scores)
            decisions.append((vote.person_id, vote.score))
        names = self.people.names([pid for pid, _ in decisions if pid])
        return [
            ((names.get(pid) or "") if pid else "", float(score) if pid else 0.0)
            for pid, score in decisions
        ]


def photo_candidates(
    engine: FaceEngine, path: str, suggester: Suggester | None = None
) -> list[Candidate]:
    """Every face of one photo; ImageError when the file is not a readable image."""
    rgb = read_image(path)
    faces = engine.faces_of(rgb)
    if len(faces) == 0:
        return []
    assert faces.embeddings is not None, "faces_of embeds every face it finds"
    quality = qualities(rgb, faces)
    names = suggester.suggest(faces.embeddings) if suggester else [("", 0.0)] * len(faces)
    h, w = rgb.shape[:2]
    out = []
    for i in range(len(faces)):
        box = faces.xyxy[i].clip(0, [w, h, w, h])
        out.append(
            Candidate(
                cid=candidate_id(path, 0, i),
                source=path,
                frame=0,
                time_s=0.0,
                bbox=[round(float(v), 1) for v in box],
                quality=float(quality[i]),
                embedding=faces.embeddings[i].astype(np.float32),
                thumbnail=thumbnail(rgb, faces.xyxy[i]),
                suggested=names[i][0],
                score=names[i][1],
            )
        )
    return out
