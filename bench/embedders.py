"""``python -m bench.embedders``: the embedders side by side, on the same detections.

For every embedder (dlib, facenet-casia, facenet-vggface2 when its weights are
installed), in one run:

- TAR at FAR 1e-3 and 1e-4 over all pairs of the labelled faces of
  ../shared/faces (``bench.calibrate``). With a few hundred different-person
  pairs both FARs resolve to "above the highest different-person pair"; the
  row says how many pairs there are.
- Named precision and recall on hamilton_360p, frame by frame without tracking
  (each face one observation, the registry's threshold, the gallery of
  ../shared/faces/gallery embedded by the same embedder): truth is Lin-Manuel
  Miranda in frames 20-210 and, among the audience of frames 211-274, Barack
  Obama (any other name there is wrong); names in the wide stage view (frames
  0-19, who is on stage is not known) are listed apart. Recall counts frames
  82-210 where Lin-Manuel Miranda is named.
- Named precision and recall on the composited scenes (``bench.scene_faces``):
  the cached MTCNN detections of every ``--scene-step``-th frame of the 360p
  scenes, each face labelled with the ground-truth face it overlaps and judged on
  its own against ``bench.run``'s gallery (the held-out enrollment photos)
  embedded by the same embedder. Precision = right names / names given; recall =
  right names / faces of enrolled people; a name on a person not enrolled is wrong.
- Milliseconds per face at batch 1 and batch 16 on the CPU (``--threads``).

The MTCNN detections are computed once and shared, so only the embedders differ.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from bench.calibrate import SHARED, embedders, labelled_faces, pair_scores
from bench.prepare import DEFAULT_CACHE
from bench.scene_faces import ENROLLED, enrollment_faces, names_given, scene_faces
from bench.scene_faces import named_scores as scene_scores
from tracker.faces import Faces

LIN = "lin_manuel_miranda"
SHOTS = ((0, 19), (20, 81), (82, 210), (211, 274))  # ../shared/README.md: the clip's shots
log = logging.getLogger("bench.embedders")


def tar_at_far(same: np.ndarray, diff: np.ndarray, far: float) -> tuple[float, float]:
    """(TAR, threshold): the lowest threshold whose false accept rate over ``diff`` is <= far."""
    ordered = np.sort(diff)[::-1]
    allowed = int(np.floor(far * len(diff)))  # different pairs allowed above the threshold
    threshold = float(ordered[allowed]) if allowed < len(ordered) else float(ordered[-1])
    return float((same > threshold).mean()), threshold


def hamilton_faces(clip: Path) -> list[tuple[int, np.ndarray, Faces]]:
    """(frame, chip, box in chip) for every face MTCNN finds in the clip (run's settings)."""
    import cv2

    from config.settings import Settings
    from workers.models.chips import make_chips, to_chip_coords
    from workers.models.mtcnn import MtcnnDetector

    s = Settings()
    detector = MtcnnDetector(
        "cpu", s.detect.min_face_px, s.detect.max_side_px, s.detect.min_confidence
    )
    cap = cv2.VideoCapture(str(clip))
    out, frame = [], 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        faces = detector.detect(rgb)
        if len(faces):
            chips, origin, scale = make_chips(rgb, faces)
            boxes = to_chip_coords(faces, origin, scale)
            out += [(frame, chips[k], boxes[np.array([k])]) for k in range(len(faces))]
        frame += 1
    cap.release()
    return out


def gallery(embedder, faces, labels: list[str], photos: list[str]) -> tuple[np.ndarray, list[str]]:
    names = {p.name for d in (SHARED / "faces" / "gallery").iterdir() for p in d.iterdir()}
    idx = [i for i, p in enumerate(photos) if p in names]
    vectors = embedder.embed([faces.chips[i] for i in idx], faces.boxes[np.array(idx)])
    return vectors, [labels[i] for i in idx]


def named_scores(embedder, video, gal: np.ndarray, gal_names: list[str]) -> dict:
    from config.settings import Settings
    from tracker.identity import IdentityVote

    chips = [c for _, c, _ in video]
    boxes = Faces(
        np.concatenate([b.xyxy for _, _, b in video]),
        np.concatenate([b.confidence for _, _, b in video]),
        np.concatenate([b.landmarks for _, _, b in video]),
    )
    vectors = embedder.embed(chips, boxes)
    right = 0
    wrong: dict[str, int] = {}  # "name in frames a-b" -> faces
    unverified: dict[str, int] = {}
    lin_frames = set()
    for (frame, _, _), v in zip(video, vectors, strict=True):
        sims = gal @ v
        scores: dict[str, float] = {}
        for name, s in zip(gal_names, sims, strict=True):
            scores[name] = max(scores.get(name, -1.0), float(s))
        vote = IdentityVote(embedder.spec.threshold, Settings().match.margin)
        vote.add(scores)
        name = vote.person_id
        if name is None:
            continue
        if frame < 20:  # the wide stage view: who is on stage is not known; counted apart
            unverified[name] = unverified.get(name, 0) + 1
            continue
        truth = LIN if frame <= 210 else "obama"
        if name == truth:
            right += 1
            if name == LIN and 82 <= frame <= 210:
                lin_frames.add(frame)
        else:
            shot = next(s for s in SHOTS if s[0] <= frame <= s[1])
            key = f"{name} in frames {shot[0]}-{shot[1]}"
            wrong[key] = wrong.get(key, 0) + 1
    n_wrong = sum(wrong.values())
    return {
        "named": right + n_wrong,
        "wrong": n_wrong,
        "precision": right / max(right + n_wrong, 1),
        "recall_82_210": len(lin_frames) / 129,
        "wrong_names": wrong,
        "named_in_0_19": unverified,
    }


def ms_per_face(embedder, faces, batch: int, repeats: int) -> float:
    chips = [faces.chips[i % len(faces.chips)] for i in range(batch)]
    idx = np.arange(batch) % len(faces.chips)
    boxes = faces.boxes[idx]
    embedder.embed(chips, boxes)  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        embedder.embed(chips, boxes)
    return (time.perf_counter() - started) * 1000 / (repeats * batch)


def print_scenes(rows: dict, scenes, step: int) -> None:
    people = sorted(set(scenes.labels))
    print(
        f"composited scenes, 360p, 1 frame in {step}: {len(scenes.labels)} faces of "
        f"{len(people)} people ({sum(r in ENROLLED for r in scenes.labels)} of enrolled ones); "
        f"detections left out: {scenes.left_out}"
    )
    print(f"{'embedder':<22}{'faces':>7}{'named':>7}{'wrong':>6}{'prec':>6}{'recall':>7}")
    for name, r in rows.items():
        print(
            f"{name:<22}{r['faces']:>7}{r['named']:>7}{r['wrong']:>6}{r['precision']:>6.2f}"
            f"{r['recall']:>7.2f}"
        )
        for what, n in sorted(r["wrong_names"].items()):
            print(f"    wrong name: {what}: {n} face(s)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.embedders",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--clip", type=Path, default=SHARED / "media" / "hamilton_360p.mp4")
    p.add_argument(
        "--crops", default="clip:20", help="FaceNet crops, CROP:MARGIN_PX (bench.calibrate)"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per batch size")
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="bench.prepare's cache")
    p.add_argument("--scene-step", type=int, default=3, help="every Nth frame of the scenes")
    p.add_argument("--no-scenes", action="store_true", help="leave out the composited scenes")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level="WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured
    import torch

    torch.set_num_threads(args.threads)
    faces = labelled_faces()
    video = hamilton_faces(args.clip)
    scenes = None if args.no_scenes else scene_faces(args.cache, args.scene_step)
    enrolled = None if args.no_scenes else enrollment_faces()
    print(
        f"{len(faces.labels)} labelled photo faces; {len(video)} faces in {args.clip.name}; "
        f"CPU, {args.threads} threads"
    )
    head = (
        f"{'embedder':<22}{'pairs s/d':>10}{'TAR@1e-3':>9}{'TAR@1e-4':>9}{'named':>7}{'wrong':>6}"
        f"{'prec':>6}{'recall':>7}{'ms b1':>7}{'ms b16':>7}"
    )
    print(head)
    results: dict = {}
    scene_rows: dict = {}
    for name, embedder in embedders(args.crops.split(",")).items():
        same, diff = pair_scores(embedder.embed(faces.chips, faces.boxes), faces.labels)
        tar3, t3 = tar_at_far(same, diff, 1e-3)
        tar4, t4 = tar_at_far(same, diff, 1e-4)
        gal, gal_names = gallery(embedder, faces, faces.labels, faces.photos)
        named = named_scores(embedder, video, gal, gal_names)
        if scenes is not None and enrolled is not None:
            from config.settings import Settings

            gal_s = embedder.embed(enrolled[0], enrolled[1])
            given = names_given(
                embedder.embed(scenes.chips, scenes.boxes),
                gal_s,
                enrolled[2],
                embedder.spec.threshold,
                Settings().match.margin,
            )
            scene_rows[name] = scene_scores(given, scenes.labels)
        b1 = ms_per_face(embedder, faces, 1, args.repeats * 4)
        b16 = ms_per_face(embedder, faces, 16, args.repeats)
        results[name] = {
            "same_pairs": len(same),
            "diff_pairs": len(diff),
            "tar_far_1e-3": tar3,
            "threshold_far_1e-3": t3,
            "tar_far_1e-4": tar4,
            "threshold_far_1e-4": t4,
            **named,
            "ms_per_face_batch1": b1,
            "ms_per_face_batch16": b16,
        }
        print(
            f"{name:<22}{len(same):>5}/{len(diff):<4}{tar3:>9.3f}{tar4:>9.3f}{named['named']:>7}"
            f"{named['wrong']:>6}{named['precision']:>6.2f}{named['recall_82_210']:>7.2f}"
            f"{b1:>7.1f}{b16:>7.1f}"
        )
        for what, n in sorted(named["wrong_names"].items()):
            print(f"    wrong name: {what}: {n} face(s)")
        if named["named_in_0_19"]:
            print(
                "    named in the wide stage view (frames 0-19, truth unknown): "
                f"{named['named_in_0_19']}"
            )
    if scenes is not None:
        print_scenes(scene_rows, scenes, args.scene_step)
    base = results.get("dlib")
    if base:
        for name, r in results.items():
            if name != "dlib":
                print(
                    f"{name} / dlib: {r['ms_per_face_batch1'] / base['ms_per_face_batch1']:.2f}x "
                    "the time per face at batch 1, "
                    f"{r['ms_per_face_batch16'] / base['ms_per_face_batch16']:.2f}x at batch 16"
                )
    if args.out:
        args.out.write_text(json.dumps(results | {"scenes": scene_rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
