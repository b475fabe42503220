"""Render a scene, run the real detector and embedder on every face once, and cache the result.

Every tracker of the benchmark is fed exactly these detections; embeddings are
computed for every detected face so that any choice of which faces to embed can
be replayed without running a model again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.synth import (
    CAST,
    SHARED,
    FrameTruth,
    Scene,
    Sprite,
    enrollment_photos,
    make_sprite,
    render,
)
from tracker.faces import Faces

log = logging.getLogger(__name__)
CACHE_VERSION = 1


@dataclass
class Video:
    name: str
    fps: float
    width: int
    height: int
    times: list[float]
    faces: list[Faces]  # per frame, with embeddings
    sharpness: list[np.ndarray]
    truth: list[FrameTruth]


class Models:
    """MTCNN + dlib, loaded once (CPU)."""

    def __init__(self, min_face_px: int = 32) -> None:  # the smallest composited face is ~43 px
        from workers.models.dlib_embedder import DlibEmbedder
        from workers.models.mtcnn import MtcnnDetector

        self.detector = MtcnnDetector("cpu", min_face_px=min_face_px)
        self.embedder = DlibEmbedder()

    def faces(self, rgb: np.ndarray) -> tuple[Faces, np.ndarray]:
        from workers.models.chips import make_chips, to_chip_coords
        from workers.quality import sharpness

        faces = self.detector.detect(rgb)
        if not len(faces):
            return Faces(
                faces.xyxy, faces.confidence, None, np.zeros((0, self.embedder.dim), np.float32)
            ), np.zeros(0, np.float32)
        chips, origin, scale = make_chips(rgb, faces)
        vectors = self.embedder.embed(chips, to_chip_coords(faces, origin, scale))
        return Faces(faces.xyxy, faces.confidence, faces.landmarks, vectors), sharpness(
            rgb, faces.xyxy
        )

    def sprites(self) -> dict[str, Sprite]:
        from workers.models.chips import read_image

        out = {}
        for name, (_, rel) in CAST.items():
            rgb = read_image(str(SHARED / rel))
            faces = self.detector.detect(rgb)
            box = faces.xyxy[int(np.argmax(faces.area))]
            out[name] = make_sprite(rgb, box)
        return out

    def gallery(self, held_out: bool = True) -> tuple[np.ndarray, list[str]]:
        """Enrollment vectors and their person per row (the videos' photos excluded unless ``held_out`` is off)."""
        from workers.models.chips import read_image

        vectors, people = [], []
        folders = (
            enrollment_photos()
            if held_out
            else {
                d.name: sorted(d.iterdir())
                for d in sorted((SHARED / "faces" / "gallery").iterdir())
            }
        )
        for person, photos in folders.items():
            for photo in photos:
                faces, _ = self.faces(read_image(str(photo)))
                if len(faces):
                    vectors.append(faces.embeddings[int(np.argmax(faces.area))])
                    people.append(person)
        return np.stack(vectors), people


def _save(path: Path, video: Video) -> None:
    counts = np.array([len(f) for f in video.faces])
    cat = lambda xs, shape: np.concatenate(xs) if xs else np.zeros(shape, np.float32)  # noqa: E731
    np.savez_compressed(
        path,
        counts=counts,
        times=np.array(video.times),
        xyxy=cat([f.xyxy for f in video.faces], (0, 4)),
        conf=cat([f.confidence for f in video.faces], (0,)),
        landmarks=cat(
            [
                f.landmarks if f.landmarks is not None else np.zeros((len(f), 5, 2), np.float32)
                for f in video.faces
            ],
            (0, 5, 2),
        ),
        emb=cat([f.embeddings for f in video.faces], (0, 128)),
        sharp=cat(video.sharpness, (0,)),
        gt_boxes=cat([t.boxes for t in video.truth], (0, 4)),
        gt_counts=np.array([len(t.ids) for t in video.truth]),
        hidden=cat([t.hidden for t in video.truth], (0, 4)),
        hidden_counts=np.array([len(t.hidden) for t in video.truth]),
        meta=np.array(
            json.dumps(
                {
                    "v": CACHE_VERSION,
                    "ids": [t.ids for t in video.truth],
                    "fps": video.fps,
                    "width": video.width,
                    "height": video.height,
                }
            )
        ),
    )


def _load(path: Path, name: str) -> Video | None:
    try:
        z = np.load(path)
        meta = json.loads(str(z["meta"]))
    except (OSError, ValueError, KeyError):
        return None
    if meta.get("v") != CACHE_VERSION:
        return None
    split = lambda a, counts: np.split(a, np.cumsum(counts)[:-1]) if len(counts) else []  # noqa: E731
    counts = z["counts"]
    faces = [
        Faces(x, c, lm, e)
        for x, c, lm, e in zip(
            split(z["xyxy"], counts),
            split(z["conf"], counts),
            split(z["landmarks"], counts),
            split(z["emb"], counts),
            strict=True,
        )
    ]
    truth = [
        FrameTruth(ids, b, h)
        for ids, b, h in zip(
            meta["ids"],
            split(z["gt_boxes"], z["gt_counts"]),
            split(z["hidden"], z["hidden_counts"]),
            strict=True,
        )
    ]
    return Video(
        name,
        meta["fps"],
        meta["width"],
        meta["height"],
        z["times"].tolist(),
        faces,
        split(z["sharp"], counts),
        truth,
    )


def subsample(v: Video, step: int, fps: float) -> Video:
    """Every ``step``-th frame: the same scene at a lower frame rate (the renders are identical)."""
    name = v.name.rsplit("-", 1)[0] + f"-{fps:g}fps"
    return Video(
        name,
        fps,
        v.width,
        v.height,
        v.times[::step],
        v.faces[::step],
        v.sharpness[::step],
        v.truth[::step],
    )


def video(
    scene: Scene,
    width: int,
    height: int,
    fps: float,
    models: Models | None,
    sprites,
    cache: Path,
    base_fps: float | None = None,
) -> Video:
    """The scene's detections at ``fps``; taken from the ``base_fps`` video when fps divides it."""
    if base_fps and base_fps != fps and float(base_fps / fps).is_integer():
        return subsample(
            video(scene, width, height, base_fps, models, sprites, cache), int(base_fps / fps), fps
        )
    name = f"{scene.name}-{height}p-{fps:g}fps"
    path = cache / f"{name}.npz"
    cached = _load(path, name) if path.exists() else None
    if cached is not None:
        return cached
    if models is None:
        raise RuntimeError(f"{path}: not cached and no models given")
    times, faces, sharp, truth = [], [], [], []
    for _, t, rgb, gt in render(scene, sprites, width, height, fps):
        f, s = models.faces(rgb)
        times.append(t)
        faces.append(f)
        sharp.append(s)
        truth.append(gt)
    v = Video(name, fps, width, height, times, faces, sharp, truth)
    cache.mkdir(parents=True, exist_ok=True)
    _save(path, v)
    log.info("%s: %d frames, %d faces detected", name, len(times), sum(len(f) for f in faces))
    return v
