"""``python -m bench.calibrate``: same/different-person similarities per embedder, and thresholds.

Every face of ../shared/faces (gallery, probes, singles) with a known identity is
detected once with MTCNN (the photo settings of ``facestream identify``) and
embedded by each embedder; all pairs of faces give the same-person and the
different-person cosine similarity distributions. Faces of multi-face photos are
labelled left to right as ../shared/README.md lists them (checked by eye); the
six strangers of multiface.jpg and the third face of obama_and_biden.jpg are
each their own identity.

Derived per embedder (the registry's ``threshold`` and ``unknown_below``):

- threshold = the highest different-person similarity + a margin of 10 % of the
  distance from it to the median same-person similarity: no false name on these
  pairs, with room for faces not in the sample;
- unknown_below = the 99th percentile of different-person similarities: a track
  whose best mean stays under it looks no more like anyone enrolled than 99 % of
  strangers do.

With ``--scenes`` the faces of the composited benchmark scenes
(``bench.scene_faces``: cached detections of every ``--scene-step``-th frame,
each labelled with the ground-truth face it overlaps) join the photo faces, and
each embedder gets a second row derived from all pairs of both. The scenes show
one photo per person, so their same-person pairs are renders of one photo (an
optimistic same-person side); their different-person pairs are new. The line
under the two rows compares both derived thresholds with the registry's and
counts the different-person pairs at or above the registry's threshold (a wrong
name waiting to happen).

Prints a table (and JSON with ``--out``); nothing is written into the code.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tracker.faces import Faces

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}
# multi-face photos: identities left to right (None: a stranger, an identity of its own)
MULTI = {
    "two_people.jpg": ["obama", "biden"],
    "kit_with_rose.jpg": ["rose_leslie", "kit_harington"],
    "obama_and_biden.jpg": ["biden", "obama", None],
    "multiface.jpg": [None] * 6,
}
SINGLE_PROBES = {
    "obama1.jpg": "obama",
    "obama3.jpg": "obama",
    "32bit.png": "obama",
    "obama_partial_face.jpg": "obama",
    "obama_partial_face2.jpg": "obama",
    "alex_lacamoire1.jpg": "alex_lacamoire",
    "johnsnow_test1.jpg": "kit_harington",
}
log = logging.getLogger("bench.calibrate")


@dataclass
class LabelledFaces:
    """Detected faces of labelled photos: per face its photo, identity and chip."""

    photos: list[str]
    labels: list[str]
    chips: list[np.ndarray]
    boxes: Faces  # in chip coordinates, with landmarks


def labelled_faces(shared: Path = SHARED) -> LabelledFaces:
    from workers.models.chips import make_chips, read_image, to_chip_coords
    from workers.models.mtcnn import MtcnnDetector

    detector = MtcnnDetector("cpu", min_face_px=20, max_side_px=1600)
    todo: list[tuple[Path, list[str | None]]] = []
    for person in sorted((shared / "faces" / "gallery").iterdir()):
        todo += [
            (p, [person.name])
            for p in sorted(person.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES
        ]
    for person in sorted((shared / "faces" / "singles").iterdir()):
        todo += [
            (p, [person.name])
            for p in sorted(person.iterdir())
            if p.suffix.lower() in IMAGE_SUFFIXES
        ]
    probes = shared / "faces" / "probes"
    todo += [(probes / name, [who]) for name, who in SINGLE_PROBES.items()]
    todo += [(probes / name, list(who)) for name, who in MULTI.items()]
    photos, labels, chips, parts = [], [], [], []
    for path, who in todo:
        rgb = read_image(str(path))
        faces = detector.detect(rgb)
        if len(who) == 1:
            faces = faces[np.array([int(np.argmax(faces.area))])] if len(faces) else faces
        faces = faces[np.argsort(faces.xyxy[:, 0], kind="stable")]
        if len(faces) != len(who):
            raise RuntimeError(
                f"{path.name}: expected {len(who)} face(s), MTCNN found {len(faces)}"
            )
        c, origin, scale = make_chips(rgb, faces)
        for k, name in enumerate(who):
            photos.append(path.name)
            labels.append(name if name is not None else f"stranger:{path.name}#{k}")
            chips.append(c[k])
        parts.append(to_chip_coords(faces, origin, scale))
    boxes = Faces(
        np.concatenate([p.xyxy for p in parts]),
        np.concatenate([p.confidence for p in parts]),
        np.concatenate([p.landmarks for p in parts]),
    )
    return LabelledFaces(photos, labels, chips, boxes)


def pair_scores(vectors: np.ndarray, labels: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(same-person, different-person) cosine similarities over all pairs of faces."""
    sims = vectors @ vectors.T
    lab = np.asarray(labels)
    upper = np.triu(np.ones_like(sims, bool), 1)
    same = lab[:, None] == lab[None, :]
    return sims[upper & same], sims[upper & ~same]


def derive(same: np.ndarray, diff: np.ndarray) -> dict:
    top = float(diff.max())
    threshold = top + 0.10 * (float(np.median(same)) - top)
    return {
        "same_n": len(same),
        "diff_n": len(diff),
        "same_min": float(same.min()),
        "same_p5": float(np.percentile(same, 5)),
        "same_median": float(np.median(same)),
        "diff_max": top,
        "diff_p99": float(np.percentile(diff, 99)),
        "diff_median": float(np.median(diff)),
        "threshold": round(threshold, 3),
        "unknown_below": round(float(np.percentile(diff, 99)), 3),
        "same_missed_at_threshold": int((same < threshold).sum()),
    }


def embedders(variants: list[str]) -> dict:
    """name -> embedder: dlib, and facenet-casia (and -vggface2 when installed) per crop variant."""
    from config.settings import Settings
    from workers.models.dlib_embedder import DlibEmbedder
    from workers.models.facenet_embedder import FacenetEmbedder, find_weights

    out: dict = {"dlib": DlibEmbedder()}
    for model in ("facenet-casia", "facenet-vggface2"):
        found = find_weights(Settings().facenet_weights, model)
        if found is None or found[0] != model:
            log.warning("%s: no weights on this machine, not measured", model)
            continue
        for variant in variants:
            crop, _, margin = variant.partition(":")
            out[f"{model}/{variant}"] = FacenetEmbedder(
                found[1], model=model, crop=crop, margin_px=float(margin or 20)
            )
    return out


def template(faces: LabelledFaces) -> np.ndarray:
    """The mean place of the 5 landmarks in ``pad`` crops: ``facenet_embedder.TEMPLATE_5``."""
    from workers.models.facenet_embedder import MARGIN_PX, box_matrix

    pts = []
    for box, lm in zip(faces.boxes.xyxy, faces.boxes.landmarks, strict=True):
        m = box_matrix(box, MARGIN_PX)
        pts.append(lm @ m[:, :2].T + m[:, 2])
    return np.round(np.mean(pts, axis=0), 1)


def above(vectors: np.ndarray, labels: list[str], threshold: float) -> list:
    """((identity, identity), pairs) of different people scoring >= threshold, most first."""
    sims = vectors @ vectors.T
    lab = np.asarray(labels)
    i, j = np.nonzero(np.triu(sims >= threshold, 1) & (lab[:, None] != lab[None, :]))
    counts: dict[tuple[str, str], int] = {}
    for a, b in zip(lab[i], lab[j], strict=True):
        key = (min(a, b), max(a, b))
        counts[key] = counts.get(key, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def print_row(name: str, r: dict) -> None:
    print(
        f"{name:<32}{r['same_min']:>9.3f}{r['same_p5']:>7.3f}{r['same_median']:>8.3f}"
        f"{r['diff_max']:>9.3f}"
        f"{r['diff_p99']:>7.3f}{r['threshold']:>10.3f}{r['unknown_below']:>9.3f}"
        f"{r['same_missed_at_threshold']:>5}/{r['same_n']}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.calibrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--crops",
        default="clip:20,clip:32,pad:20,align5:32",
        help="FaceNet crops to measure, CROP:MARGIN_PX (facenet_embedder.crop_for_facenet)",
    )
    p.add_argument("--template", action="store_true", help="print the landmark template and stop")
    p.add_argument("--out", type=Path, help="write the figures as JSON")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--scenes", action="store_true", help="add the composited scenes' faces")
    p.add_argument("--scene-step", type=int, default=3, help="every Nth frame of the scenes")
    p.add_argument("--cache", type=Path, help="bench.prepare's cache (default bench/.cache)")
    args = p.parse_args(argv)
    logging.basicConfig(level="WARNING")
    sys.stdout.reconfigure(line_buffering=True)  # rows appear as they are measured
    import torch

    torch.set_num_threads(args.threads)
    faces = labelled_faces()
    if args.template:
        print(json.dumps(template(faces).tolist()))
        return 0
    print(
        f"{len(faces.labels)} faces, {len(set(faces.labels))} identities, "
        f"from {len(set(faces.photos))} photos"
    )
    results = {}
    head = (
        f"{'embedder':<32}{'same min':>9}{'p5':>7}{'median':>8}{'diff max':>9}{'p99':>7}"
        f"{'threshold':>10}{'unknown<':>9}{'missed':>8}"
    )
    scenes = None
    if args.scenes:
        from bench.prepare import DEFAULT_CACHE
        from bench.scene_faces import scene_faces

        scenes = scene_faces(args.cache or DEFAULT_CACHE, args.scene_step)
        print(
            f"with --scenes: {len(scenes.labels)} scene faces of {len(set(scenes.labels))} people "
            f"(1 frame in {args.scene_step} of the 360p scenes)"
        )
    print(head)
    for name, embedder in embedders(args.crops.split(",")).items():
        started = time.perf_counter()
        vectors = embedder.embed(faces.chips, faces.boxes)
        same, diff = pair_scores(vectors, faces.labels)
        r = derive(same, diff) | {"embed_s": round(time.perf_counter() - started, 2)}
        results[name] = r
        print_row(name, r)
        if scenes is not None:
            both = np.concatenate([vectors, embedder.embed(scenes.chips, scenes.boxes)])
            s_same, s_diff = pair_scores(both, faces.labels + scenes.labels)
            rs = derive(s_same, s_diff)
            results[f"{name} +scenes"] = rs
            print_row(f"{name} +scenes", rs)
            registry = embedder.spec.threshold
            print(
                f"    derived threshold {r['threshold']:.3f} without the scenes, "
                f"{rs['threshold']:.3f} with them; registry {registry:.3f}: different-person "
                f"pairs at or above it {int((diff >= registry).sum())}/{len(diff)} without, "
                f"{int((s_diff >= registry).sum())}/{len(s_diff)} with the scenes"
            )
            for (a, b), n in above(both, faces.labels + scenes.labels, registry)[:4]:
                print(f"    different people at or above {registry:.3f}: {a} ~ {b}: {n} pair(s)")
        lab = np.asarray(faces.labels)
        sims = vectors @ vectors.T
        lows = [
            (float(sims[i, j]), faces.photos[i], faces.photos[j])
            for i in range(len(lab))
            for j in range(i + 1, len(lab))
            if lab[i] == lab[j] and sims[i, j] < r["threshold"]
        ]
        for s, a, b in sorted(lows)[:4]:
            print(f"    same person under the threshold: {s:.3f} {a} ~ {b}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
