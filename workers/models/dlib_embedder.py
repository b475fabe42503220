"""dlib's ResNet face embedder (128-d, LFW 99.38%): works offline from PyPI packages.

Weights come from ``face-recognition-models``; its ``__init__`` imports the
deprecated ``pkg_resources``, so the files are located through the package's
import spec instead of importing it.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import numpy as np

from config.errors import ModelError
from tracker.faces import Faces
from workers.models.registry import MODELS

log = logging.getLogger(__name__)


def dlib_model_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("dlib embedder: the package 'face-recognition-models' is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "models"


class DlibEmbedder:
    spec = MODELS["dlib"]  # dimension and thresholds: workers/models/registry.py
    name = spec.name
    dim = spec.dim

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise ModelError(
                "dlib embedder: the package 'dlib-bin' (or dlib) is not installed"
            ) from exc
        base = dlib_model_dir()
        self._dlib = dlib
        self.shape_model = dlib.shape_predictor(str(base / "shape_predictor_5_face_landmarks.dat"))
        self.resnet = dlib.face_recognition_model_v1(
            str(base / "dlib_face_recognition_resnet_model_v1.dat")
        )
        log.info("dlib ResNet embedder loaded from %s", base)

    def embed(self, chips: list[np.ndarray], boxes: Faces) -> np.ndarray:
        """RGB chips and each face's box inside its chip -> (N, 128) unit vectors."""
        out = np.zeros((len(chips), self.dim), np.float32)
        for i, (chip, box) in enumerate(zip(chips, boxes.xyxy, strict=True)):
            x1, y1, x2, y2 = (int(round(v)) for v in box)
            shape = self.shape_model(chip, self._dlib.rectangle(x1, y1, x2, y2))
            vec = np.asarray(self.resnet.compute_face_descriptor(chip, shape, 0), np.float32)
            out[i] = vec / max(float(np.linalg.norm(vec)), 1e-12)
        return out
