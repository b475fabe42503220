"""Purity of unknown labels: does one `unknown-...` label ever cover two people?

    PYTHONPATH=. python -m bench.label_purity [--scenes cross2,cross4,...] [--crowd PATH]

The composited scenes of ``bench.scenes`` (360p, 10 fps, written to mp4) and the crowd clip go
through the real `facestream run` (worker processes, private Valkey and milvus-lite, MTCNN and
dlib) on one stack where the bench gallery is enrolled (``bench.synth.enrollment_photos``), so the
scenes' strangers (``bench.synth.CAST``, not enrolled) are the faces that get unknown labels.
Figures, per video and in all:

- ``simultaneous``: labels seen on two or more tracks in one frame (each is two people under
  one label; must be 0);
- per stranger of a scene, the labels its face records got (ground truth: the face box it
  overlaps, IoU >= 0.5); one label each is the goal, also across scenes;
- ``impure``: labels whose records cover more than one ground-truth person.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

from bench.synth import CAST, SHARED, Scene, enrollment_photos, render

SIZE, FPS, MIN_IOU = (640, 360), 10.0, 0.5


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return inter / np.maximum(union, 1e-6)


def write_scene(scene, sprites, folder: Path) -> tuple[Path, dict]:
    """The scene as an mp4, and its ground truth per frame: (ids, boxes)."""
    path = folder / f"{scene.name}.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), FPS, SIZE)
    truth = {}
    for k, _, rgb, gt in render(scene, sprites, *SIZE, FPS):
        out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        truth[k] = (gt.ids, gt.boxes)
    out.release()
    return path, truth


def purity(rows: list[dict], truth: dict | None) -> dict:
    faces = [r for r in rows if "event" not in r and (r.get("label") or "").startswith("unknown-")]
    per_frame: dict[tuple[int, str], set[str]] = defaultdict(set)
    for r in faces:
        per_frame[(r["frame"], r["label"])].add(r["track_id"])
    simultaneous = {label for (_, label), tracks in per_frame.items() if len(tracks) > 1}
    people_of: dict[str, set[str]] = defaultdict(set)  # label -> ground-truth people
    labels_of: dict[str, set[str]] = defaultdict(set)  # person -> labels
    if truth is not None:
        for r in faces:
            ids, boxes = truth.get(r["frame"], ([], np.zeros((0, 4))))
            if not ids:
                continue
            iou = _iou(np.array(r["bbox"], np.float32), boxes)
            if iou.max() >= MIN_IOU:
                person = ids[int(iou.argmax())]
                people_of[r["label"]].add(person)
                labels_of[person].add(r["label"])
    return {
        "labels": len({r["label"] for r in faces}),
        "tracks": len({r["track_id"] for r in faces}),
        "simultaneous": len(simultaneous),
        "impure": sum(len(p) > 1 for p in people_of.values()),
        "labels_per_person": {p: sorted(v) for p, v in labels_of.items()},
    }


def _cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def main() -> None:
    from bench.detections import Models
    from bench.scenes import scenes

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", default="", help="comma list (default: every scene)")
    ap.add_argument("--crowd", type=Path, default=SHARED / "media" / "crowd_1080p.mp4")
    ap.add_argument("--out", type=Path, default=Path("bench/results/label_purity.json"))
    args = ap.parse_args()
    picked = [s for s in scenes() if not args.scenes or s.name in args.scenes.split(",")]
    report: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        gallery = root / "gallery"
        for person, photos in enrollment_photos().items():
            (gallery / person).mkdir(parents=True)
            for p in photos:
                (gallery / person / p.name).symlink_to(p)
        data = root / "data"
        done = _cli(data, "enroll", "--dir", str(gallery))
        if done.returncode:
            sys.exit(f"enroll failed: {done.stderr[-2000:]}")
        sprites = Models().sprites()
        videos: list[tuple[Path, dict | None, Scene | None]] = [
            (*write_scene(s, sprites, root), s) for s in picked
        ]
        if args.crowd.exists():
            videos.append((args.crowd, None, None))
        everyone: dict[str, set[str]] = defaultdict(set)
        for path, truth, scene in videos:
            out = root / f"{path.stem}.jsonl"
            done = _cli(data, "run", str(path), "--out", str(out))
            if done.returncode:
                sys.exit(f"run {path.name} failed: {done.stderr[-2000:]}")
            rows = [json.loads(line) for line in out.read_text().splitlines()]
            row = purity(rows, truth)
            if scene is not None:
                strangers = {p.name for p in scene.people if not CAST[p.name][0]}
                row["strangers"] = {p: row["labels_per_person"].get(p, []) for p in strangers}
                for p, labels in row["strangers"].items():
                    everyone[p].update(labels)
            report[path.stem] = row
            print(
                f"{path.stem:<12} labels {row['labels']:3d} on {row['tracks']:3d} tracks, "
                f"simultaneous {row['simultaneous']}, impure {row['impure']}"
                + (
                    ", strangers: "
                    + ", ".join(f"{p} {len(v)}" for p, v in sorted(row["strangers"].items()))
                    if "strangers" in row
                    else ""
                )
            )
        report["strangers_across_scenes"] = {p: sorted(v) for p, v in everyone.items()}
        print(
            "across scenes: "
            + ", ".join(f"{p} {len(v)} label(s)" for p, v in sorted(everyone.items()))
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
