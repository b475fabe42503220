"""Faces of the composited benchmark scenes, cut out for the embedder benchmarks.

The scenes of ``bench.scenes`` are rendered again (rendering is deterministic) at
360p and 10 fps, and their cached MTCNN detections (``bench.prepare``, the
``--cache`` folder of ``bench.run``) are reused, so every embedder is fed the
same faces. Every ``step``-th frame is used. Each detected face is labelled
with the ground-truth face it overlaps (IoU >= ``MIN_IOU``, at most one
detection per ground-truth face); detections of faces hidden below
``bench.synth.MIN_VISIBLE`` or of no face at all are left out and counted.

The gallery is ``bench.run``'s: the photos of ../shared/faces/gallery minus the
ones the videos show (``bench.synth.enrollment_photos``), largest face per photo,
detected with the settings the scenes were detected with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.synth import CAST
from tracker.faces import Faces

log = logging.getLogger(__name__)
MIN_IOU = 0.5
SIZE, FPS = (640, 360), 10.0  # every scene has a 360p render; 10 fps is the cached base rate
ENROLLED = {name for name, (enrolled, _) in CAST.items() if enrolled}


@dataclass
class SceneFaces:
    """Detected faces of the scenes: per face its ground-truth person, chip and place."""

    labels: list[str]
    chips: list[np.ndarray]
    boxes: Faces  # in chip coordinates, with landmarks
    where: list[tuple[str, int]]  # (video, frame index)
    left_out: dict[str, int] = field(default_factory=dict)  # "hidden"/"no face" -> detections


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a`` (N, 4) with every box of ``b`` (M, 4)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda r: (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def match_truth(xyxy: np.ndarray, truth: np.ndarray) -> list[int | None]:
    """Per detection the index of the ground-truth box it overlaps most (greedy, one-to-one)."""
    out: list[int | None] = [None] * len(xyxy)
    if not len(xyxy) or not len(truth):
        return out
    iou = _iou(xyxy, truth)
    taken: set[int] = set()
    for flat in np.argsort(-iou, axis=None):
        d, g = np.unravel_index(flat, iou.shape)
        if iou[d, g] < MIN_IOU:
            break
        if out[d] is None and int(g) not in taken:
            out[d] = int(g)
            taken.add(int(g))
    return out


def _stack(parts: list[Faces]) -> Faces:
    return Faces(
        np.concatenate([p.xyxy for p in parts]),
        np.concatenate([p.confidence for p in parts]),
        np.concatenate([p.landmarks for p in parts]),
    )


def scene_faces(cache: Path, step: int = 3, only: list[str] | None = None) -> SceneFaces:
    """The labelled faces of every ``step``-th frame of each scene (``only``: these scenes)."""
    from bench.detections import Models, video
    from bench.scenes import scenes
    from bench.synth import render
    from workers.models.chips import make_chips, to_chip_coords

    if step < 1:
        raise ValueError(f"step: expected a frame step >= 1, got {step}")
    models = Models()  # its detector is the one the cache was made with; sprites need it too
    sprites = models.sprites()
    labels, chips, parts, where = [], [], [], []
    left_out = {"hidden": 0, "no face": 0}
    for scene in scenes():
        if only and scene.name not in only:
            continue
        v = video(scene, *SIZE, FPS, models, sprites, cache)
        for k, _, rgb, _ in render(scene, sprites, *SIZE, FPS):
            if k % step:
                continue
            faces, gt = v.faces[k], v.truth[k]
            hits = match_truth(faces.xyxy, gt.boxes)
            keep = [i for i, g in enumerate(hits) if g is not None]
            for i, g in enumerate(hits):
                if g is None:
                    hidden = len(gt.hidden) and _iou(faces.xyxy[i : i + 1], gt.hidden).max()
                    left_out["hidden" if hidden >= MIN_IOU else "no face"] += 1
            if not keep:
                continue
            picked = faces[np.array(keep)]
            c, origin, scale = make_chips(rgb, picked)
            chips += c
            parts.append(to_chip_coords(picked, origin, scale))
            for i in keep:
                labels.append(gt.ids[hits[i]])
                where.append((v.name, k))
    if not labels:
        raise RuntimeError(f"no scene faces matched ground truth (scenes {only}, step {step})")
    log.info("%d scene faces; left out: %s", len(labels), left_out)
    return SceneFaces(labels, chips, _stack(parts), where, left_out)


def enrollment_faces() -> tuple[list[np.ndarray], Faces, list[str]]:
    """(chips, boxes in chip coordinates, person per face) of ``bench.run``'s gallery photos."""
    from bench.synth import enrollment_photos
    from workers.models.chips import make_chips, read_image, to_chip_coords
    from workers.models.mtcnn import MtcnnDetector

    detector = MtcnnDetector("cpu", min_face_px=32)  # bench.detections.Models' detector
    chips, parts, people = [], [], []
    for person, photos in enrollment_photos().items():
        for photo in photos:
            rgb = read_image(str(photo))
            faces = detector.detect(rgb)
            if not len(faces):
                log.warning("%s: no face found, not enrolled", photo)
                continue
            faces = faces[np.array([int(np.argmax(faces.area))])]
            c, origin, scale = make_chips(rgb, faces)
            chips += c
            parts.append(to_chip_coords(faces, origin, scale))
            people.append(person)
    return chips, _stack(parts), people


def names_given(
    vectors: np.ndarray, gallery: np.ndarray, people: list[str], threshold: float, margin: float
) -> list[str | None]:
    """The name each face gets on its own: one observation of ``IdentityVote``."""
    from tracker.identity import IdentityVote

    out = []
    for sims in vectors @ gallery.T:
        scores: dict[str, float] = {}
        for person, s in zip(people, sims, strict=True):
            scores[person] = max(scores.get(person, -1.0), float(s))
        vote = IdentityVote(threshold, margin)
        vote.add(scores)
        out.append(vote.person_id)
    return out


def named_scores(names: list[str | None], labels: list[str]) -> dict:
    """Precision = right names / names given; recall = right names / faces of enrolled people."""
    right = sum(n is not None and n == t for n, t in zip(names, labels, strict=True))
    given = sum(n is not None for n in names)
    enrolled = sum(t in ENROLLED for t in labels)
    wrong: dict[str, int] = {}  # "truth named as name" -> faces
    for n, t in zip(names, labels, strict=True):
        if n is not None and n != t:
            key = f"{t} named {n}"
            wrong[key] = wrong.get(key, 0) + 1
    return {
        "faces": len(labels),
        "enrolled_faces": enrolled,
        "named": given,
        "wrong": given - right,
        "precision": right / max(given, 1),
        "recall": right / max(enrolled, 1),
        "wrong_names": wrong,
    }
