"""Real face embeddings for the gallery benchmark: dlib vectors of every face in ../shared (the
photos and the frames of its clips), cached, then jittered to any gallery size.

Random unit vectors are a poor stand-in for a face gallery: real embeddings crowd into a narrow
cone, which is what makes approximate search lose recall. Jittered copies keep that shape.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)
# a jittered copy lies ~0.35 (Euclidean) from its source face: under dlib's same-person distance
# (0.6), as another photo of the same person would
JITTER_NORM = 0.35
CLIP_EVERY = 3  # frames of the clips: every third (neighbouring frames are near-duplicates)


def _images(shared: Path):
    for path in sorted((shared / "faces").rglob("*")):
        if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                yield cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    for clip in sorted((shared / "media").glob("*.mp4")):
        capture = cv2.VideoCapture(str(clip))
        n = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if n % CLIP_EVERY == 0:
                if frame.shape[1] > 960:  # HOG at 1080p is slow; faces stay >= ~40 px at 960
                    frame = cv2.resize(frame, (960, 540), interpolation=cv2.INTER_AREA)
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            n += 1
        capture.release()


def embed_shared(shared: Path) -> np.ndarray:
    """(N, 128) unit dlib vectors of every face dlib's HOG detector finds in ``shared``."""
    import dlib

    from workers.models.dlib_embedder import dlib_model_dir

    base = dlib_model_dir()
    detector = dlib.get_frontal_face_detector()
    shape_model = dlib.shape_predictor(str(base / "shape_predictor_5_face_landmarks.dat"))
    resnet = dlib.face_recognition_model_v1(str(base / "dlib_face_recognition_resnet_model_v1.dat"))
    out = []
    for image in _images(shared):
        for rect in detector(image, 1):
            shape = shape_model(image, rect)
            out.append(np.asarray(resnet.compute_face_descriptor(image, shape, 0), np.float32))
    vectors = np.stack(out)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def real_faces(shared: Path, cache: Path) -> np.ndarray:
    """The embeddings of :func:`embed_shared`, computed once into ``cache`` (an .npy file)."""
    if cache.exists():
        return np.load(cache)
    vectors = embed_shared(shared)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    log.info("embedded %d real faces from %s into %s", len(vectors), shared, cache)
    return vectors


def jittered(
    faces: np.ndarray, n: int, rng: np.random.Generator, norm: float = JITTER_NORM
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` unit vectors, each a real face plus noise of about ``norm``; and each one's source."""
    source = rng.integers(0, len(faces), n)
    noise = rng.standard_normal((n, faces.shape[1]), dtype=np.float32)
    noise *= norm / np.sqrt(faces.shape[1])
    v = faces[source] + noise
    return v / np.linalg.norm(v, axis=1, keepdims=True), source
