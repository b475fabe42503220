"""Choose and load the embedder the settings name; 'auto' follows the registry's measured order."""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from config.errors import ConfigError
from config.settings import Settings
from tracker.faces import Faces
from workers.models.registry import AUTO, CHOICES, FACENET, ModelSpec, spec

log = logging.getLogger(__name__)


class Embedder(Protocol):
    name: str
    dim: int
    spec: ModelSpec

    def embed(self, chips: list[np.ndarray], boxes: Faces) -> np.ndarray: ...


def _installed(name: str, settings: Settings) -> bool:
    if name == "dlib":
        return True  # its weights come with a required package
    from workers.models.facenet_embedder import find_weights

    found = find_weights(settings.facenet_weights, name)
    return found is not None and found[0] == name


def embedder_name(settings: Settings, device: str = "cpu") -> str:
    """The registry entry the embedder setting stands for on this machine, loading nothing."""
    choice = settings.embedder
    if choice not in CHOICES:
        raise ConfigError(f"embedder: expected one of {CHOICES}, got {choice!r}")
    if choice in ("auto", "facenet"):
        order = (
            AUTO["cuda" if str(device).startswith("cuda") else "cpu"]
            if choice == "auto"
            else FACENET
        )
        for name in order:
            if _installed(name, settings):
                return name
        if choice == "facenet":
            from workers.models.facenet_embedder import missing_weights

            raise missing_weights("facenet")
    return spec(choice).name


def load_embedder(settings: Settings, device: str) -> Embedder:
    name = embedder_name(settings, device)
    if settings.embedder == "auto":
        log.info(
            "embedder auto -> %s on %s (the first installed of %s)",
            name,
            device,
            AUTO["cuda" if device.startswith("cuda") else "cpu"],
        )
    if spec(name).family == "dlib":
        from workers.models.dlib_embedder import DlibEmbedder

        return DlibEmbedder()
    from workers.models.facenet_embedder import FacenetEmbedder

    return FacenetEmbedder(
        settings.facenet_weights, device=device, half=settings.gpu_half, model=name
    )
