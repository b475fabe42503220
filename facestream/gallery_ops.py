"""Enroll people from photos, list and remove them, identify faces in photos."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from config.errors import ImageError
from facestream import thumbnails
from tracker.identity import IdentityVote
from workers.gallery.people import People, check_name
from workers.models.chips import read_image

if TYPE_CHECKING:  # the models and pymilvus: not for `run`, which only asks other_model_only
    from facestream.engine import FaceEngine
    from workers.gallery.vectors import VectorIndex

log = logging.getLogger(__name__)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


@dataclass
class EnrollReport:
    enrolled: dict[str, int] = field(default_factory=dict)  # name -> faces added
    problems: list[tuple[str, str]] = field(default_factory=list)  # (path, what went wrong)
    notes: list[tuple[str, str]] = field(default_factory=list)  # (path, something worth saying)


def photos_by_person(directory: Path) -> dict[str, list[Path]]:
    """One sub-folder per person; the folder name is the person's name."""
    people = {}
    for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
        photos = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if photos:
            people[sub.name] = photos
    return people


def enroll(
    engine: FaceEngine,
    people: People,
    index: VectorIndex,
    name: str,
    photos: list[Path],
    report: EnrollReport,
    keep_thumbnail: Callable[[str, str, bytes], None] | None = None,
) -> None:
    """Enroll the largest face of each photo; ``keep_thumbnail(person_id, face_id, jpeg)`` keeps
    a small picture of each face enrolled (the web's face library shows them)."""
    name = check_name(name)
    vectors, thumbs = [], []
    for path in photos:
        try:
            rgb = read_image(str(path))
            found = engine.faces_in_rgb(rgb, str(path))
        except ImageError as exc:
            report.problems.append((str(path), str(exc)))
            continue
        if len(found.faces) == 0:
            report.problems.append((str(path), "no face found"))
            continue
        i = int(np.argmax(found.faces.area))
        if len(found.faces) > 1:
            report.notes.append((str(path), f"{len(found.faces)} faces: enrolled the largest"))
        vectors.append(found.embeddings[i])
        thumbs.append(thumbnails.cut(rgb, [float(v) for v in found.faces.xyxy[i]]))
    if vectors:
        person_id = people.get_or_create(name)
        face_ids = index.insert(person_id, np.stack(vectors))
        people.add_faces(person_id, engine.embedder.name, len(face_ids))
        report.enrolled[name] = report.enrolled.get(name, 0) + len(face_ids)
        if keep_thumbnail is not None:
            for face_id, jpeg in zip(face_ids, thumbs, strict=True):
                keep_thumbnail(person_id, str(face_id), jpeg)


def other_model_only(people: People, model: str) -> str | None:
    """Why a search with ``model`` would find nobody although people are enrolled, or None."""
    from workers.models.registry import other_model_only as why

    return why(people.faces_per_model(), model)


def identify(
    engine: FaceEngine,
    people: People,
    index: VectorIndex,
    threshold: float,
    margin: float,
    path: Path,
    top_k: int = 10,
) -> list[dict]:
    """Every face of one photo: bbox, name (None when unknown) and score."""
    found = engine.faces_in(str(path))
    matches = index.search(found.embeddings, top_k) if len(found.faces) else []
    # one photo is one observation: the same decision rule as a track's first embedding
    decisions = []
    for scores in matches:
        vote = IdentityVote(threshold, margin)
        vote.add(scores)
        decisions.append((vote.person_id, vote.score))
    names = people.names([pid for pid, _ in decisions if pid])
    out = []
    for (pid, score), box in zip(decisions, found.faces.xyxy, strict=True):
        box = box.clip(0, [found.width, found.height, found.width, found.height])
        out.append(
            {
                "image": str(path),
                "bbox": [round(float(v), 1) for v in box],
                "name": names.get(pid) if pid else None,
                "score": round(float(score), 4),
            }
        )
    return out
