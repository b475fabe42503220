"""FaceNet (InceptionResnetV1, 512-d) from facenet-pytorch, with either of its two weight sets.

The weights are not in the wheel. They are resolved from an explicit path, then
the torch hub cache where facenet-pytorch itself would put them; a worker never
downloads. CASIA-WebFace weights are converted offline by ``facestream models
install facenet`` (``facenet_convert``); VGGFace2 weights are downloaded on
purpose by ``facestream models fetch facenet`` where there is internet.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from config.errors import ModelError
from tracker.faces import Faces
from workers.models.registry import FACENET, ModelSpec, spec

log = logging.getLogger(__name__)

WEIGHTS_URL = "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt"
IMAGE_PX = 160
# facenet-pytorch's examples crop with a 20 px margin at 160 px; measured on ../shared/faces
# (python -m bench.calibrate) it separates identities as well as davidsandberg's 32 px, or better
MARGIN_PX = 20
CROPS = ("clip", "pad", "align5")
# the 5 MTCNN landmarks' mean place in ``pad`` crops (margin 32) of the faces of ../shared/faces
# (python -m bench.calibrate --template): the geometry FaceNet was trained on, rotation removed
TEMPLATE_5 = np.array(
    [[52.5, 66.7], [109.8, 67.1], [81.5, 92.7], [54.7, 111.4], [107.8, 111.4]], np.float32
)


def hub_weights_path(model: str = "facenet-vggface2") -> Path:
    """Where a FaceNet registry entry's weights live: the torch hub cache, facenet-pytorch's name"""
    torch_home = os.getenv(
        "TORCH_HOME", os.path.join(os.getenv("XDG_CACHE_HOME", "~/.cache"), "torch")
    )
    return Path(os.path.expanduser(torch_home)) / "checkpoints" / str(spec(model).weights_file)


def weights_of(explicit: Path) -> str:
    """The registry entry an explicit weights file holds, by facenet-pytorch's file naming."""
    return "facenet-casia" if "casia" in explicit.name.lower() else "facenet-vggface2"


def find_weights(explicit: Path | None, model: str = "facenet") -> tuple[str, Path] | None:
    """(registry entry, weights file) for ``model`` ('facenet': the first of FACENET installed),
    or None when this machine has none."""
    if explicit is not None:
        if not explicit.is_file():
            raise ModelError(f"facenet_weights: expected a file, got {explicit} (missing)")
        return (model if model in FACENET else weights_of(explicit)), explicit
    for name in FACENET if model == "facenet" else (model,):
        cached = hub_weights_path(name)
        if cached.is_file():
            return name, cached
    return None


def fetch_weights(dest: Path | None = None) -> Path:
    """Download the VGGFace2 weights into the torch hub cache (needs internet)."""
    from facenet_pytorch.models.utils.download import download_url_to_file

    dest = dest or hub_weights_path("facenet-vggface2")
    dest.parent.mkdir(parents=True, exist_ok=True)
    download_url_to_file(WEIGHTS_URL, str(dest), progress=True)
    return dest


def box_matrix(box: np.ndarray, margin_px: float) -> np.ndarray:
    """The affine map from chip pixels to the 160 px crop of the box plus ``margin_px`` (at 160)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    mx = margin_px * (x2 - x1) / (IMAGE_PX - margin_px)
    my = margin_px * (y2 - y1) / (IMAGE_PX - margin_px)
    sx = IMAGE_PX / max(x2 - x1 + mx, 1.0)
    sy = IMAGE_PX / max(y2 - y1 + my, 1.0)
    return np.array([[sx, 0.0, -sx * (x1 - mx / 2)], [0.0, sy, -sy * (y1 - my / 2)]], np.float64)


def crop_for_facenet(
    chip: np.ndarray,
    box: np.ndarray,
    landmarks: np.ndarray | None = None,
    crop: str = "clip",
    margin_px: float = MARGIN_PX,
) -> np.ndarray:
    """A 160 px face crop, standardised to [-1, 1] (``fixed_image_standardization``).

    ``clip`` (the default: measured best, bench.calibrate): the box plus margin, resized to a square
    like facenet-pytorch's MTCNN crop; where it crosses the chip's edge (a face cut by the frame)
    the window is shifted inside the chip at its full size, so the face is not stretched; ``pad``:
    the same box, with what lies outside the chip black; ``align5``: a similarity transform of the 5
    landmarks onto
    ``TEMPLATE_5`` (their mean place in ``pad`` crops)."""
    if crop == "clip":
        h, w = chip.shape[:2]
        m = box_matrix(box, margin_px)
        size_x, size_y = IMAGE_PX / m[0, 0], IMAGE_PX / m[1, 1]
        x1 = int(min(max(0.0, -m[0, 2] / m[0, 0]), max(0.0, w - size_x)))
        y1 = int(min(max(0.0, -m[1, 2] / m[1, 1]), max(0.0, h - size_y)))
        x2, y2 = int(min(w, x1 + size_x)), int(min(h, y1 + size_y))
        out = cv2.resize(
            chip[y1 : max(y2, y1 + 1), x1 : max(x2, x1 + 1)],
            (IMAGE_PX, IMAGE_PX),
            interpolation=cv2.INTER_AREA,
        )
    else:
        if crop == "align5" and landmarks is not None and np.isfinite(landmarks).all():
            m, _ = cv2.estimateAffinePartial2D(
                landmarks.astype(np.float32), TEMPLATE_5, method=cv2.LMEDS
            )
            m = m if m is not None else box_matrix(box, margin_px)
        else:
            m = box_matrix(box, margin_px)
        out = cv2.warpAffine(
            chip,
            m,
            (IMAGE_PX, IMAGE_PX),
            flags=cv2.INTER_AREA if m[0, 0] < 1 else cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
    return (out.astype(np.float32) - 127.5) / 128.0


def missing_weights(model: str = "facenet") -> ModelError:
    names = FACENET if model == "facenet" else (model,)
    where = ", ".join(str(hub_weights_path(n)) for n in names)
    return ModelError(
        f"{model} embedder: weights not found (looked for facenet_weights and {where}); run "
        "'facestream models install facenet' (CASIA-WebFace, offline), or 'facestream models "
        "fetch facenet' (VGGFace2) where there is internet, or use --embedder dlib"
    )


class FacenetEmbedder:
    dim = 512

    def __init__(
        self,
        weights: Path | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        half: bool = False,
        model: str = "facenet",
        crop: str = "clip",
        margin_px: float = MARGIN_PX,
    ):
        from facenet_pytorch import InceptionResnetV1

        from workers.models.device import torch_module

        torch = torch_module()  # with the process's thread count

        found = find_weights(weights, model)
        if found is None:
            raise missing_weights(model)
        self.spec: ModelSpec = spec(found[0])
        self.name = self.spec.name
        path = found[1]
        if crop not in CROPS:
            raise ModelError(f"facenet crop: expected one of {CROPS}, got {crop!r}")
        self.crop, self.margin_px = crop, margin_px
        self._torch = torch
        self.device = device
        self.batch_size = batch_size
        self.model = InceptionResnetV1(pretrained=None, classify=False).eval().to(device)
        try:
            state = torch.load(path, map_location=device, weights_only=True)
            # the VGGFace2 checkpoint carries its 8631-class training head; embeddings don't use it
            state = {k: v for k, v in state.items() if not k.startswith("logits.")}
            self.model.load_state_dict(state, strict=True)
        except Exception as exc:  # unpickling errors, a dict of another model, missing/extra keys
            raise ModelError(
                f"facenet_weights: expected an InceptionResnetV1 checkpoint ({self.name}), "
                f"{path} is not one ({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc
        # fp16 on a GPU: twice the throughput, embeddings within ~1e-3 cosine of fp32 (normalised)
        self.dtype = torch.float16 if half and str(device).startswith("cuda") else torch.float32
        self.model = self.model.to(dtype=self.dtype)
        log.info(
            "FaceNet embedder %s on %s (%s), weights %s",
            self.name,
            device,
            str(self.dtype).replace("torch.", ""),
            path,
        )

    def embed(self, chips: list[np.ndarray], boxes: Faces) -> np.ndarray:
        if not chips:
            return np.zeros((0, self.dim), np.float32)
        marks = boxes.landmarks if boxes.landmarks is not None else [None] * len(chips)
        batch = np.stack(
            [
                crop_for_facenet(c, b, lm, self.crop, self.margin_px)
                for c, b, lm in zip(chips, boxes.xyxy, marks, strict=True)
            ]
        ).transpose(0, 3, 1, 2)
        out = []
        with self._torch.inference_mode():
            for i in range(0, len(batch), self.batch_size):
                x = self._torch.from_numpy(np.ascontiguousarray(batch[i : i + self.batch_size]))
                out.append(self.model(x.to(self.device, dtype=self.dtype)).float().cpu().numpy())
        vectors = np.concatenate(out).astype(np.float32)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
