"""Replay cached detections through a tracker and an identity layer, as the pipeline would.

Trackers (all fed the same detections):
- ``new``: ``tracker.FaceTracker``, best shots (``ShotPicker``) and the matcher's
  ``TrackBook`` (votes, lost-and-found by appearance): what facestream runs now;
- ``iou``: the first pipeline's tracker: ``IouTracker``, every 10th face embedded, one vote per track;
- ``bytetrack``: roboflow ``trackers``' ByteTrack, with the first pipeline's identity rule.

The gallery search is the same as Milvus' FLAT inner-product search: the best
similarity per person among the ``top_k`` nearest enrolled vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.detections import Video
from tracker.face_tracker import FaceTracker
from tracker.identity import IdentityVote
from tracker.iou_tracker import IouTracker
from tracker.quality import face_quality
from tracker.shots import ShotPicker
from tracker.track_book import TrackBook
from workers.scene import CutDetector

THRESHOLD, MARGIN, TOP_K = 0.92, 0.02, 10  # the pipeline's dlib defaults


class Gallery:
    def __init__(self, vectors: np.ndarray, people: list[str]):
        self.vectors = vectors
        self.people = people

    def search(self, v: np.ndarray) -> dict[str, float]:
        sims = self.vectors @ v
        best: dict[str, float] = {}
        for i in np.argsort(-sims)[:TOP_K]:
            best[self.people[i]] = max(best.get(self.people[i], -1.0), float(sims[i]))
        return best


@dataclass
class Output:
    """Per frame: the reported track id and name of each detection (None: not reported)."""

    boxes: list[np.ndarray]
    ids: list[list[str | None]]
    names: list[list[str | None]]
    tracks_started: int = 0
    embeddings: int = 0


def _cuts(video: Video, scene: np.ndarray | None) -> list[bool]:
    """Per frame: a shot cut before it (the pipeline ends every track there)."""
    if scene is None:
        return [False] * len(video.times)
    detector = CutDetector()
    return [detector.is_cut(h) for h in scene]


def _bytetrack_ids(video: Video, cuts: list[bool]) -> list[list[str | None]]:
    import supervision as sv
    from trackers import ByteTrackTracker

    tracker = ByteTrackTracker(frame_rate=video.fps, lost_track_buffer=int(round(video.fps)))
    out, epoch = [], 0
    for faces, cut in zip(video.faces, cuts, strict=True):
        if cut:
            tracker.reset()
            epoch += 1
        det = sv.Detections(
            xyxy=faces.xyxy.astype(np.float32),
            confidence=faces.confidence,
            class_id=np.zeros(len(faces), int),
            data={"i": np.arange(len(faces))},
        )
        res = tracker.update(det)
        ids: list[str | None] = [None] * len(faces)
        for i, tid in zip(
            res.data["i"] if len(res) else [], res.tracker_id if len(res) else [], strict=True
        ):
            if tid >= 0:
                ids[int(i)] = f"bt{epoch}-{tid}"
        out.append(ids)
    return out


def _walking_identity(
    video: Video, track_ids: list[list[str | None]], gallery: Gallery, every_n: int = 10
) -> Output:
    votes: dict[str, IdentityVote] = {}
    hits: dict[str, int] = {}
    out = Output([f.xyxy for f in video.faces], [], [])
    for faces, ids in zip(video.faces, track_ids, strict=True):
        names: list[str | None] = []
        for j, tid in enumerate(ids):
            if tid is None:
                names.append(None)
                continue
            if tid not in votes:
                votes[tid] = IdentityVote(THRESHOLD, MARGIN)
                hits[tid] = 0
                out.tracks_started += 1
            hits[tid] += 1
            if (hits[tid] - 1) % every_n == 0:
                votes[tid].add(gallery.search(faces.embeddings[j]))
                out.embeddings += 1
            names.append(votes[tid].person_id)
        out.ids.append(list(ids))
        out.names.append(names)
    return out


def run_new(
    video: Video,
    gallery: Gallery,
    cuts: list[bool],
    tracker: FaceTracker | None = None,
    picker: ShotPicker | None = None,
) -> Output:
    tracker = tracker or FaceTracker(video.name)
    picker = picker or ShotPicker()
    book = TrackBook(lambda: IdentityVote(THRESHOLD, MARGIN))
    out = Output([f.xyxy for f in video.faces], [], [])
    for k, (faces, sharp, t) in enumerate(
        zip(video.faces, video.sharpness, video.times, strict=True)
    ):
        if cuts[k]:
            ended = tracker.reset()
            book.end(ended)
            picker.forget(ended)
        no_emb = type(faces)(
            faces.xyxy, faces.confidence, faces.landmarks
        )  # the tracker sees no embeddings
        update = tracker.update(no_emb, t)
        seen = {}
        for tid in update.track_ids:
            if tid is not None and tid not in seen:
                seen[tid], started = book.seen(tid, k, t)
                out.tracks_started += started
        for j in picker.pick(update.track_ids, face_quality(faces, sharp), t):
            book.embedded(
                update.track_ids[j], faces.embeddings[j], gallery.search(faces.embeddings[j])
            )
            out.embeddings += 1
        ids, names = [], []
        for tid in update.track_ids:
            tr = book.get(tid) if tid is not None else None
            ids.append(tr.display_id if tr else None)
            names.append(tr.vote.person_id if tr else None)
        out.ids.append(ids)
        out.names.append(names)
        book.end(update.ended)
        book.expire(t)
        picker.forget(update.ended)
    return out


def run(kind: str, video: Video, gallery: Gallery, scene: np.ndarray | None = None) -> Output:
    cuts = _cuts(video, scene)
    if kind == "new":
        return run_new(video, gallery, cuts)
    if kind == "iou":
        tracker = IouTracker(video.name)
        ids = []
        for f, t, cut in zip(video.faces, video.times, cuts, strict=True):
            if cut:
                tracker.reset()
            ids.append(tracker.update(f, t).track_ids)
        return _walking_identity(video, ids, gallery)
    if kind == "bytetrack":
        return _walking_identity(video, _bytetrack_ids(video, cuts), gallery)
    raise ValueError(f"tracker kind: expected new, iou or bytetrack, got {kind!r}")
