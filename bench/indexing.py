"""``python -m bench.indexing``: how well index mode groups faces by identity, and how fast.

Every photo of ../shared/faces (gallery, probes, singles) goes through the candidate step of
``facestream index`` (MTCNN with the photo settings, the embedder, quality, thumbnail); the
identities come from the paths and from bench.calibrate's tables of the probes (multi-face photos
left to right; each stranger an identity of its own) and are hidden from the clustering. Per
linkage and cut: V-measure, homogeneity (no group mixes two people), completeness (no person split
over groups) and groups vs identities; the first row is what index mode uses (average linkage at
the embedder's calibrated threshold). Photos/s is the candidate step alone, models loaded;
``--video CLIP`` adds video frames/s (detect every ``index.video_every_n``-th frame, track, embed
the best shots).

The registry's thresholds were calibrated on these same faces (bench.calibrate), so the row at the
calibrated threshold is optimistic; the rows around it show how much margin there is.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from bench.calibrate import MULTI, SINGLE_PROBES

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
log = logging.getLogger("bench.indexing")


def identities(path: Path, xs: list[float]) -> list[str]:
    """The identity of each face of one photo (faces given by their left edge)."""
    if path.parent.parent.name in ("gallery", "singles"):
        who: list[str | None] = [path.parent.name] * len(xs)
    elif path.name in MULTI:
        who = list(MULTI[path.name])
    else:
        who = [SINGLE_PROBES[path.name]]
    if len(who) != len(xs):
        raise RuntimeError(f"{path.name}: expected {len(who)} face(s), found {len(xs)}")
    out = [""] * len(xs)
    for rank, i in enumerate(np.argsort(xs, kind="stable")):
        out[i] = who[rank] or f"stranger:{path.name}#{rank}"
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.indexing", description=__doc__)
    p.add_argument("--embedder", default="dlib", help="dlib (the CPU default) or facenet-casia")
    p.add_argument("--faces", type=Path, default=SHARED / "faces")
    p.add_argument("--out", type=Path, help="write the figures as JSON")
    p.add_argument(
        "--video",
        type=Path,
        action="append",
        default=[],
        help="also index this clip and report video frames/s (repeatable)",
    )
    args = p.parse_args(argv)
    logging.basicConfig(level="WARNING")
    sys.stdout.reconfigure(line_buffering=True)
    from sklearn.metrics import homogeneity_completeness_v_measure

    from config.settings import Settings
    from facestream.engine import FaceEngine
    from facestream.indexing.candidates import photo_candidates
    from facestream.indexing.clustering import LINKAGES, cluster_faces
    from facestream.indexing.sources import photos_under
    from workers.models.registry import spec

    engine = FaceEngine(Settings(embedder=args.embedder))
    model = spec(engine.embedder.name)
    files = [f for sub in ("gallery", "probes", "singles") for f in photos_under(args.faces / sub)]
    vectors, labels, seen = [], [], []
    started = time.perf_counter()
    for path in files:
        found = photo_candidates(engine, str(path))
        vectors += [c.embedding for c in found]
        seen += [c.seen for c in found]
        labels += identities(path, [c.bbox[0] for c in found])
    elapsed = time.perf_counter() - started
    x = np.stack(vectors)
    rows = []
    cuts = [model.threshold] + [round(model.threshold + d, 3) for d in (-0.04, -0.02, 0.02)]
    for linkage in LINKAGES:
        for cut in cuts:
            groups = cluster_faces(x, [""] * len(x), cut, linkage, seen)
            h, c, v = homogeneity_completeness_v_measure(labels, groups)
            rows.append(
                {
                    "linkage": linkage,
                    "similarity": cut,
                    "groups": len(set(groups.tolist())),
                    "homogeneity": round(h, 4),
                    "completeness": round(c, 4),
                    "v_measure": round(v, 4),
                }
            )
    rows.sort(key=lambda r: r["linkage"] != "average" or r["similarity"] != model.threshold)
    videos = []
    for clip in args.video:
        from facestream.indexing.video import video_candidates

        settings = Settings(embedder=args.embedder)
        started = time.perf_counter()
        got = video_candidates(
            engine, str(clip), settings.index, settings.track, settings.scene_cut_threshold
        )
        seconds = time.perf_counter() - started
        videos.append(
            {
                "clip": clip.name,
                "frames": got.frames,
                "tracks": got.tracks,
                "candidates": len(got.candidates),
                "frames_per_s": round(got.frames / seconds, 2),
            }
        )
    result = {
        "embedder": model.name,
        "photos": len(files),
        "faces": len(labels),
        "identities": len(set(labels)),
        "photos_per_s": round(len(files) / elapsed, 3),
        "rows": rows,
        "videos": videos,
    }
    print(
        f"{model.name}: {len(files)} photos, {len(labels)} faces, {len(set(labels))} identities; "
        f"candidates at {result['photos_per_s']} photos/s"
    )
    print(f"{'linkage':9} {'cut':>6} {'groups':>6} {'homog':>6} {'compl':>6} {'V':>6}")
    for r in rows:
        print(
            f"{r['linkage']:9} {r['similarity']:6.3f} {r['groups']:6d} {r['homogeneity']:6.3f} "
            f"{r['completeness']:6.3f} {r['v_measure']:6.3f}"
        )
    for v in videos:
        print(
            f"{v['clip']}: {v['frames']} frames at {v['frames_per_s']} frames/s, "
            f"{v['tracks']} track(s), {v['candidates']} candidate(s)"
        )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
