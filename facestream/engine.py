"""In-process face engine for enroll and identify: detect + embed a photo, no bus."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from config.settings import Settings
from tracker.faces import Faces
from workers.models.chips import make_chips, read_image, to_chip_coords
from workers.models.device import resolve_device
from workers.models.loader import Embedder, load_embedder
from workers.models.mtcnn import MtcnnDetector

log = logging.getLogger(__name__)


@dataclass
class PhotoFaces:
    path: str
    faces: Faces  # with embeddings
    width: int
    height: int

    @property
    def embeddings(self) -> np.ndarray:
        """(N, D) vectors: ``faces_in`` embeds every face it finds (an empty photo gives (0, D))."""
        if self.faces.embeddings is None:
            raise ValueError(f"faces of {self.path}: expected embeddings, got None")
        return self.faces.embeddings


class FaceEngine:
    def __init__(self, settings: Settings):
        device = resolve_device(settings.device, settings.torch_threads)
        # photos: faces can be small in group shots, and there is no frame rate to keep up
        self.detector = MtcnnDetector(
            device, min_face_px=20, max_side_px=1600, min_confidence=settings.detect.min_confidence
        )
        self.embedder: Embedder = load_embedder(settings, device)

    def faces_in(self, path: str) -> PhotoFaces:
        """Every face of a photo with its embedding; ImageError when it cannot be read."""
        return self.faces_in_rgb(read_image(path), path)

    def faces_in_rgb(self, rgb: np.ndarray, path: str) -> PhotoFaces:
        """Every face of decoded RGB pixels (an upload); ``path`` names it in messages."""
        return PhotoFaces(path, self.faces_of(rgb), rgb.shape[1], rgb.shape[0])

    def faces_of(self, rgb: np.ndarray) -> Faces:
        """Every face of an RGB image (a photo or a video frame), with its embedding."""
        faces = self.detector.detect(rgb)
        if len(faces):
            chips, origin, scale = make_chips(rgb, faces)
            vectors = self.embedder.embed(chips, to_chip_coords(faces, origin, scale))
            faces = Faces(faces.xyxy, faces.confidence, faces.landmarks, vectors)
        else:
            faces = Faces(
                faces.xyxy, faces.confidence, None, np.zeros((0, self.embedder.dim), np.float32)
            )
        return faces
