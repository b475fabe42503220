"""Render every benchmark video and cache its detections: ``python -m bench.prepare [CACHE]``."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

from bench.detections import Models, video
from bench.scenes import FRAME_RATES, scenes

DEFAULT_CACHE = Path(__file__).resolve().parent / ".cache"


def prepare(cache: Path = DEFAULT_CACHE, only: str | None = None) -> None:
    models = Models()
    sprites = models.sprites()
    for scene in scenes():
        if only and scene.name != only:
            continue
        for fps in FRAME_RATES:
            for w, h in scene.resolutions:
                started = time.monotonic()
                v = video(scene, w, h, fps, models, sprites, cache, FRAME_RATES[0])
                logging.info("%s ready (%.0f s)", v.name, time.monotonic() - started)


if __name__ == "__main__":
    logging.basicConfig(level="INFO", format="%(asctime)s %(message)s")
    prepare(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CACHE)
