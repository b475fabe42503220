"""Choose and load the embedder named by the settings ('auto' prefers FaceNet when its weights exist)."""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from config.errors import ConfigError
from config.settings import Settings
from tracker.faces import Faces

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int
    default_threshold: float

    def embed(self, chips: list[np.ndarray], boxes: Faces) -> np.ndarray: ...


def embedder_name(settings: Settings) -> str:
    """The concrete embedder 'auto' stands for on this machine, without loading anything."""
    if settings.embedder != "auto":
        return settings.embedder
    from workers.models.facenet_embedder import find_weights

    return "facenet" if find_weights(settings.facenet_weights) is not None else "dlib"


def load_embedder(settings: Settings, device: str) -> Embedder:
    name = embedder_name(settings)
    if settings.embedder == "auto":
        log.info("embedder auto -> %s (%s)", name,
                 "FaceNet weights found" if name == "facenet" else "no FaceNet weights on this machine")
    if name == "dlib":
        from workers.models.dlib_embedder import DlibEmbedder

        return DlibEmbedder()
    if name == "facenet":
        from workers.models.facenet_embedder import FacenetEmbedder

        return FacenetEmbedder(settings.facenet_weights, device=device, half=settings.gpu_half)
    raise ConfigError(f"embedder: expected auto, facenet or dlib, got {name!r}")


def collection_name(name: str, dim: int) -> str:
    """Embeddings of different models never share a Milvus collection."""
    return f"faces_{name}_{dim}"


def embedder_dims(name: str) -> int:
    return {"dlib": 128, "facenet": 512}[name]
