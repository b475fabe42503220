"""The real clips, replayed in-process: ``python -m bench.clips [hamilton_360p] [crowd_1080p]``.

Detections (MTCNN), dlib embeddings of every face and the detector's scene
histograms are computed once per clip and cached; then each tracker replays
them as the pipeline would (shot cuts end every track). Prints, per tracker:
for hamilton_360p (gallery enrolled) the track ids that carry
lin_manuel_miranda in frames 82-210, how many of those frames are named, and
every wrong name; for crowd_1080p the number of tracks and their mean length.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

from bench.detections import Models, Video, _load, _save
from bench.prepare import DEFAULT_CACHE
from bench.synth import SHARED, FrameTruth
from bench.tracker_replay import Gallery, run

log = logging.getLogger("bench.clips")
LIN = "lin_manuel_miranda"


def clip(name: str, cache: Path, models: Models | None) -> tuple[Video, Models | None]:
    from workers.scene import scene_histogram

    path = cache / f"clip-{name}.npz"
    hist_path = cache / f"clip-{name}-scene.npy"
    v = _load(path, name) if path.exists() and hist_path.exists() else None
    if v is not None:
        v.scene = np.load(hist_path)
        return v, models
    models = models or Models(min_face_px=20)  # the pipeline's default
    cap = cv2.VideoCapture(str(SHARED / "media" / f"{name}.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    times, faces, sharp, hists = [], [], [], []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        f, s = models.faces(rgb)
        times.append(len(times) / fps)
        faces.append(f)
        sharp.append(s)
        hists.append(scene_histogram(rgb, rgb=True))
    h, w = rgb.shape[:2]
    truth = [
        FrameTruth([], np.zeros((0, 4), np.float32), np.zeros((0, 4), np.float32)) for _ in times
    ]
    v = Video(name, fps, w, h, times, faces, sharp, truth)
    cache.mkdir(parents=True, exist_ok=True)
    _save(path, v)
    np.save(hist_path, np.stack(hists))
    v.scene = np.stack(hists)
    return v, models


def gallery(cache: Path, models: Models | None) -> Gallery:
    path = cache / "gallery-full.npz"
    if not path.exists():
        vectors, people = (models or Models(min_face_px=20)).gallery(held_out=False)
        np.savez(path, vectors=vectors, people=np.array(people))
    z = np.load(path)
    return Gallery(z["vectors"], [str(p) for p in z["people"]])


def tracks_of(out) -> dict[str, list[int]]:
    frames = defaultdict(list)
    for k, ids in enumerate(out.ids):
        for tid in ids:
            if tid is not None:
                frames[tid].append(k)
    return frames


def main() -> None:
    import sys

    logging.basicConfig(level="INFO", format="%(asctime)s %(message)s")
    cache = DEFAULT_CACHE
    only = sys.argv[1:] or ["hamilton_360p", "crowd_1080p"]
    ham, models = clip("hamilton_360p", cache, None) if "hamilton_360p" in only else (None, None)
    crowd, models = clip("crowd_1080p", cache, models) if "crowd_1080p" in only else (None, models)
    gal = gallery(cache, models)
    for kind in ("new", "iou", "bytetrack"):
        if crowd is not None:
            c = run(kind, crowd, gal, scene=crowd.scene)
            lengths = [len(f) for f in tracks_of(c).values()]
            print(
                f"{kind:<10} crowd: {len(lengths)} tracks, mean length {np.mean(lengths):.1f} frames, "
                f"named faces {sum(n is not None for names in c.names for n in names)}"
            )
        if ham is None:
            continue
        out = run(kind, ham, gal, scene=ham.scene)
        lin_ids, named = Counter(), 0
        wrong = Counter()
        for k, (ids, names) in enumerate(zip(out.ids, out.names, strict=True)):
            if 82 <= k <= 210:
                lin = [i for i, n in zip(ids, names, strict=True) if n == LIN]
                named += bool(lin)
                lin_ids.update(lin)
            for n, count in Counter(n for n in names if n is not None).items():
                # right: Lin in his shots, obama in the audience shot; a name twice in one frame is wrong
                if not (n == LIN and k <= 210) and not (n == "obama" and k >= 211) or count > 1:
                    wrong[(k, n)] += count
        c = run(kind, crowd, gal, scene=crowd.scene)
        lengths = [len(f) for f in tracks_of(c).values()]
        print(
            f"{kind:<10} hamilton: frames 82-210 named {LIN}: {named}/129 on track ids {dict(lin_ids)}; "
            f"wrong names: {sum(wrong.values())} {sorted(wrong)[:5]}"
        )
        print(
            f"{'':<10} crowd: {len(lengths)} tracks, mean length {np.mean(lengths):.1f} frames, "
            f"named faces {sum(n is not None for names in c.names for n in names)}"
        )


if __name__ == "__main__":
    main()
