"""Candidates from a video: faces tracked across frames, each track's best shots kept.

In process, the way the pipeline does it (DESIGN.md section 2): MTCNN on every
``video_every_n``-th frame, the project's ``FaceTracker`` (motion only) assigns
faces to tracks, a histogram cut ends every track (a track must not carry one
person's faces onto the next shot's), and per track the ``shots_per_track`` faces
of best quality are embedded and kept. Tracks are clustered as one unit
(clustering.cluster_faces), so a track is never split across groups.
"""

from __future__ import annotations

import heapq
import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from config.errors import SourceError
from config.sections import IndexSettings, TrackSettings
from facestream.engine import FaceEngine
from facestream.indexing.candidates import (
    Candidate,
    Suggester,
    candidate_id,
    qualities,
    thumbnail,
)
from tracker.face_tracker import FaceTracker, TrackerParams
from tracker.faces import Faces
from workers.models.chips import make_chips, to_chip_coords
from workers.scene import CutDetector, scene_histogram

log = logging.getLogger(__name__)
MIN_HITS = 2  # a track seen once is more often a false detection than a person


@dataclass(order=True)
class Shot:
    quality: float
    side: float  # the box's shorter side: among profiles (quality 0) the larger face is better
    frame: int
    face: int  # index among the frame's detections: part of the candidate id
    time_s: float = field(compare=False)
    box: np.ndarray = field(compare=False)
    chip: np.ndarray = field(compare=False)
    chip_face: Faces = field(compare=False)  # the face in chip coordinates, with landmarks
    thumbnail: bytes = field(compare=False)


@dataclass
class VideoResult:
    candidates: list[Candidate]
    frames: int  # frames read
    declared: int  # frames the container declares (0 when it does not say)
    tracks: int = 0


def video_candidates(
    engine: FaceEngine,
    path: str,
    index: IndexSettings,
    track: TrackSettings,
    cut_threshold: float,
    suggester: Suggester | None = None,
) -> VideoResult:
    """The best shots of every track of a video file; SourceError when no frame can be read."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SourceError(f"{path}: not a readable video")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    declared = max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    tracker = FaceTracker("index", TrackerParams.from_section(track))
    cuts = CutDetector(cut_threshold)
    shots: dict[str, list[Shot]] = {}  # min-heaps of the best shots per track
    hits: dict[str, int] = {}
    span: dict[str, tuple[int, int]] = {}  # first and last frame each track was seen in
    frame = -1
    try:
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            frame += 1
            if cuts.is_cut(scene_histogram(bgr)):
                tracker.reset()
            if frame % index.video_every_n:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            faces = engine.detector.detect(rgb)
            update = tracker.update(faces, frame / fps)
            if not len(faces):
                continue
            quality = qualities(rgb, faces)
            for i, tid in enumerate(update.track_ids):
                if tid is None:
                    continue
                hits[tid] = hits.get(tid, 0) + 1
                span[tid] = (span.get(tid, (frame, frame))[0], frame)
                heap = shots.setdefault(tid, [])
                wh = faces.xyxy[i, 2:] - faces.xyxy[i, :2]
                # every face counts (an audience watching the stage is all profiles): quality
                # ranks the shots, it does not exclude any
                key = (float(quality[i]), float(wh.min()), frame, i)
                if len(heap) >= index.shots_per_track and key <= (
                    heap[0].quality,
                    heap[0].side,
                    heap[0].frame,
                    heap[0].face,
                ):
                    continue
                one = faces[[i]]
                chips, origin, scale = make_chips(rgb, one)
                shot = Shot(
                    *key,
                    time_s=frame / fps,
                    box=faces.xyxy[i].copy(),
                    chip=chips[0],
                    chip_face=to_chip_coords(one, origin, scale),
                    thumbnail=thumbnail(rgb, faces.xyxy[i]),
                )
                if len(heap) >= index.shots_per_track:
                    heapq.heapreplace(heap, shot)
                else:
                    heapq.heappush(heap, shot)
    finally:
        cap.release()
    if frame < 0:
        raise SourceError(f"{path}: no frame could be read (not a video, or damaged)")
    kept = {tid: sorted(h, reverse=True) for tid, h in shots.items() if hits[tid] >= MIN_HITS}
    out = _embed(engine, path, kept, span, suggester)
    log.info(
        "%s: %d frame(s), %d track(s) kept, %d candidate(s)", path, frame + 1, len(kept), len(out)
    )
    return VideoResult(out, frame + 1, declared, len(kept))


def _embed(
    engine: FaceEngine,
    path: str,
    kept: dict[str, list[Shot]],
    span: dict[str, tuple[int, int]],
    suggester: Suggester | None,
) -> list[Candidate]:
    flat = [(tid, s) for tid, track_shots in kept.items() for s in track_shots]
    if not flat:
        return []
    boxes = [s.chip_face for _, s in flat]
    chip_faces = Faces(
        np.concatenate([b.xyxy for b in boxes]),
        np.concatenate([b.confidence for b in boxes]),
        None
        if any(b.landmarks is None for b in boxes)
        else np.concatenate([b.landmarks for b in boxes]),
    )
    vectors = engine.embedder.embed([s.chip for _, s in flat], chip_faces)
    names = suggester.suggest(vectors) if suggester else [("", 0.0)] * len(flat)
    return [
        Candidate(
            cid=candidate_id(path, s.frame, s.face),
            source=path,
            frame=s.frame,
            time_s=round(s.time_s, 3),
            bbox=[round(float(v), 1) for v in s.box],
            quality=s.quality,
            embedding=vectors[k].astype(np.float32),
            thumbnail=s.thumbnail,
            # the candidate id is per file, so is the track: the tracker's ids restart per file
            track=f"{candidate_id(path, 0, 0)}:{tid}",
            suggested=names[k][0],
            score=names[k][1],
            first_frame=span[tid][0],
            last_frame=span[tid][1],
        )
        for k, (tid, s) in enumerate(flat)
    ]
