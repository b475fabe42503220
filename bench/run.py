"""The tracker benchmark: ``python -m bench.run [--scene NAME] [--per-video]``.

Prints MOTA, IDF1, ID switches (per ten crossings too) and named-frame
precision/recall for each tracker, side by side, on the same composited videos
(rendered and detected once, then cached in bench/.cache).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from bench.detections import Models, video
from bench.metrics import Counts, accumulate, summarize
from bench.prepare import DEFAULT_CACHE
from bench.scenes import FRAME_RATES, RESOLUTIONS, scenes
from bench.synth import crossings
from bench.tracker_replay import Gallery, run

log = logging.getLogger("bench")
TRACKERS = ("new", "iou", "bytetrack")


def gallery(cache: Path, models: Models | None) -> Gallery:
    path = cache / "gallery.npz"
    if path.exists():
        z = np.load(path)
        return Gallery(z["vectors"], [str(p) for p in z["people"]])
    models = models or Models()
    vectors, people = models.gallery()
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, vectors=vectors, people=np.array(people))
    return Gallery(vectors, people)


def load_videos(cache: Path, only: list[str] | None = None):
    picked = [s for s in scenes() if not only or s.name in only]
    models = sprites = None
    videos, n_cross = [], 0
    for scene in picked:
        for fps in FRAME_RATES:
            for w, h in scene.resolutions:
                try:
                    v = video(scene, w, h, fps, models, sprites, cache, FRAME_RATES[0])
                except RuntimeError:
                    models = models or Models()
                    sprites = sprites or models.sprites()
                    v = video(scene, w, h, fps, models, sprites, cache, FRAME_RATES[0])
                videos.append(v)
                n_cross += crossings(scene)
    return videos, n_cross, models


def evaluate(videos, n_cross: int, gal: Gallery, trackers=TRACKERS) -> dict[str, dict[str, float]]:
    table = {}
    for kind in trackers:
        counts, accs = Counts(), []
        started = embedded = 0
        for v in videos:
            out = run(kind, v, gal)
            accs.append(accumulate(v, out, counts))
            started += out.tracks_started
            embedded += out.embeddings
        row = summarize(accs, [v.name for v in videos], counts)
        row["IDsw_per_10_crossings"] = 10 * row["IDsw"] / max(n_cross, 1)
        row["tracks"] = started
        row["embeddings"] = embedded
        table[kind] = row
    return table


def format_table(table: dict[str, dict[str, float]], title: str) -> str:
    cols = [
        "MOTA",
        "IDF1",
        "IDsw",
        "IDsw_per_10_crossings",
        "named_precision",
        "named_recall",
        "tracks",
        "embeddings",
    ]
    lines = [title, f"{'tracker':<10}" + "".join(f"{c:>23}" for c in cols)]
    for kind, row in table.items():
        cells = "".join(
            f"{row[c]:>23d}" if isinstance(row[c], int) else f"{row[c]:>23.4f}" for c in cols
        )
        lines.append(f"{kind:<10}" + cells)
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scene", action="append", help="only these scenes (repeatable)")
    p.add_argument("--per-video", action="store_true", help="also one table per video")
    p.add_argument("--trackers", default=",".join(TRACKERS))
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = p.parse_args()
    logging.basicConfig(level="INFO", format="%(asctime)s %(message)s")
    videos, n_cross, models = load_videos(args.cache, args.scene)
    gal = gallery(args.cache, models)
    trackers = args.trackers.split(",")
    frames = sum(len(v.times) for v in videos)
    print(
        format_table(
            evaluate(videos, n_cross, gal, trackers),
            f"{len(videos)} videos, {frames} frames, {n_cross} crossings "
            f"({', '.join(f'{w}x{h}' for w, h in RESOLUTIONS)}; {', '.join(f'{f:g}' for f in FRAME_RATES)} fps)",
        )
    )
    if args.per_video:
        for v in videos:
            scene = next(s for s in scenes() if v.name.startswith(s.name + "-"))
            print()
            print(format_table(evaluate([v], crossings(scene), gal, trackers), v.name))


if __name__ == "__main__":
    main()
