"""Rows (b) and (c): what a tutorial would write, in one process, every face of every frame.

(b) naive: facenet-pytorch's stock ``MTCNN`` on every frame, facestream's dlib
embedder on every face, nearest neighbour (numpy) against the gallery with the
same threshold facestream uses. (c) the face_recognition library's
``facerec_from_video_file.py`` example: HOG detection + dlib encodings on every
frame, ``compare_faces`` with tolerance 0.5 against the gallery's encodings.
Both read the same gallery folder and produce per-face records with a name.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np

from bench import procstat
from bench.accuracy import precision_recall
from facestream.gallery_ops import photos_by_person

log = logging.getLogger(__name__)


def _frames(clip: Path):
    cap = cv2.VideoCapture(str(clip))
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                return
            yield bgr
    finally:
        cap.release()


def _row(
    system: str, clip: Path, records: list[dict], frames: int, wall: float, cpu: float
) -> dict:
    row = {
        "system": system,
        "clip": clip.name,
        "mode": "file",
        "frames": frames,
        "wall_s": round(wall, 2),
        "fps": round(frames / max(wall, 1e-9), 2),
        "steady_fps": round(frames / max(wall, 1e-9), 2),
        "cpu_s_per_frame": round(cpu / max(frames, 1), 4),
        "peak_rss_mb": round(_self_rss(), 1),
        "cpu_bound_fps": round(_cores() / max(cpu / max(frames, 1), 1e-9), 1),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }
    if clip.name.startswith("hamilton"):
        row.update(precision_recall(records))
    return row


def _self_rss() -> float:
    return procstat.peak_rss_mb(os.getpid())


def _cores() -> int:
    """Cores this loop can use: torch's threads (MTCNN) where it has more than one, else one."""
    try:
        import torch

        return max(1, min(os.cpu_count() or 1, torch.get_num_threads()))
    except ImportError:
        return 1


def naive_loop(clip: Path, gallery_dir: Path, threshold: float = 0.92) -> dict:
    """(b): stock MTCNN + dlib on every face of every frame + numpy nearest neighbour."""
    from facenet_pytorch import MTCNN

    from tracker.faces import Faces
    from workers.models.chips import make_chips, read_image, to_chip_coords
    from workers.models.dlib_embedder import DlibEmbedder

    mtcnn = MTCNN(keep_all=True, min_face_size=20, post_process=False)
    embedder = DlibEmbedder()

    def embed(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        boxes, probs, points = mtcnn.detect(rgb, landmarks=True)
        if boxes is None:
            return np.zeros((0, 4)), np.zeros((0, embedder.dim), np.float32)
        faces = Faces(boxes, probs, points)
        faces = faces[faces.confidence >= 0.9]
        chips, origin, scale = make_chips(rgb, faces)
        return faces.xyxy, embedder.embed(chips, to_chip_coords(faces, origin, scale))

    names, vectors = [], []
    for name, photos in photos_by_person(gallery_dir).items():
        for photo in photos:
            _, vecs = embed(read_image(str(photo)))
            if len(vecs):
                names.append(name)
                vectors.append(vecs[0])
    gallery = np.stack(vectors)
    records: list[dict] = []
    cpu0, t0, n = time.process_time(), time.perf_counter(), 0
    for n, bgr in enumerate(_frames(clip), 1):
        boxes, vecs = embed(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        for box, v in zip(boxes, vecs, strict=True):
            sims = gallery @ v
            best = int(np.argmax(sims))
            records.append(
                {
                    "frame": n - 1,
                    "bbox": box.tolist(),
                    "name": names[best] if sims[best] >= threshold else None,
                }
            )
    return _row("naive", clip, records, n, time.perf_counter() - t0, time.process_time() - cpu0)


def face_recognition_available() -> bool:
    return (
        importlib.util.find_spec("face_recognition") is not None
        and importlib.util.find_spec("dlib") is not None
    )


def _import_face_recognition():
    """face_recognition_models imports the removed ``pkg_resources``: give it the one function it uses."""
    try:
        import pkg_resources  # noqa: F401
    except ImportError:
        from workers.models.dlib_embedder import dlib_model_dir

        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda _pkg, rel: str(dlib_model_dir().parent / rel)  # type: ignore[attr-defined]
        sys.modules["pkg_resources"] = shim
    import face_recognition

    return face_recognition


def face_recognition_loop(clip: Path, gallery_dir: Path, tolerance: float = 0.5) -> dict:
    """(c): face_recognition's video example: HOG + dlib encodings on every frame."""
    fr = _import_face_recognition()
    names, known = [], []
    for name, photos in photos_by_person(gallery_dir).items():
        for photo in photos:
            encodings = fr.face_encodings(fr.load_image_file(str(photo)))
            if encodings:
                names.append(name)
                known.append(encodings[0])
    records: list[dict] = []
    cpu0, t0, n = time.process_time(), time.perf_counter(), 0
    for n, bgr in enumerate(_frames(clip), 1):
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        locations = fr.face_locations(rgb)
        for loc, enc in zip(locations, fr.face_encodings(rgb, locations), strict=True):
            distances = fr.face_distance(known, enc)
            best = int(np.argmin(distances))
            top, right, bottom, left = loc
            records.append(
                {
                    "frame": n - 1,
                    "bbox": [left, top, right, bottom],
                    "name": names[best] if distances[best] <= tolerance else None,
                }
            )
    return _row(
        "face_recognition", clip, records, n, time.perf_counter() - t0, time.process_time() - cpu0
    )
