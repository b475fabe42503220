"""Embedder stage: the chips the tracker chose -> unit vectors (the chips stop here)."""

from __future__ import annotations

import logging

import numpy as np

from config.errors import ImageError
from workers import keys
from workers.messages import FrameMsg
from workers.models.chips import decode_jpeg, to_chip_coords
from workers.models.loader import Embedder
from workers.runtime import Output

log = logging.getLogger(__name__)


class EmbedHandler:
    kind = "embed"
    group = keys.GROUP_EMBED

    def __init__(self, embedder: Embedder):
        self.embedder = embedder

    def input_streams(self) -> list[str]:
        return [keys.TRACKED]

    def stale(self, msg: FrameMsg) -> FrameMsg:
        """A live frame older than its max_age: its faces go on (tracked, unnamed this frame), unembedded."""
        return msg.evolve(embed_idx=(), chips=(), chip_origin=msg.chip_origin[:0], chip_scale=msg.chip_scale[:0])

    def handle(self, msg: FrameMsg) -> list[Output]:
        cleared = dict(chips=(), chip_origin=np.zeros((0, 2), np.float32), chip_scale=np.zeros((0,), np.float32))
        if not msg.embed_idx:
            return [(keys.EMBEDDED, msg.evolve(**cleared))]
        chips, keep = [], []
        for j, data in enumerate(msg.chips):
            try:
                chips.append(decode_jpeg(data))
                keep.append(j)
            except ImageError as exc:  # one bad chip loses that face's embedding, nothing else
                log.warning("camera %s frame %d: chip %d: %s", msg.camera, msg.seq, j, exc)
        idx = [msg.embed_idx[j] for j in keep]
        boxes = to_chip_coords(msg.faces[idx], msg.chip_origin[keep], msg.chip_scale[keep])
        vectors = self.embedder.embed(chips, boxes)
        return [(keys.EMBEDDED, msg.evolve(embed_idx=tuple(idx), embeddings=vectors, model=self.embedder.name,
                                           **cleared))]
