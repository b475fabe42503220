"""Embedder stage: the chips the tracker chose -> unit vectors (the chips stop here).

With ``batch_frames > 1`` (auto on CUDA) the runtime's ``prepare`` hook hands
over a whole read of entries and the chips of all its frames go through the
model as one batch; on a CPU the dlib and FaceNet embedders cost the same per
face either way.
"""

from __future__ import annotations

import logging

import numpy as np

from config.errors import ImageError, MessageError
from tracker.faces import Faces
from workers import keys
from workers.handler import Handler, Output
from workers.messages import FrameMsg
from workers.models.chips import decode_jpeg, make_chips, to_chip_coords
from workers.models.loader import Embedder

log = logging.getLogger(__name__)


class EmbedHandler(Handler):
    kind = "embed"
    group = keys.GROUP_EMBED

    def __init__(self, embedder: Embedder, batch_frames: int = 1):
        self.embedder = embedder
        self.batch_frames = batch_frames
        self._ready: dict[tuple[str, str, int], tuple[list[int], np.ndarray]] = {}

    def input_streams(self) -> list[str]:
        return keys.every_shard(keys.TRACKED)

    def warm_up(self) -> None:
        """Runtime hook, once before the first read: one embedding, so the first real face is not the slow one."""
        rgb = np.random.default_rng(0).integers(0, 255, (240, 240, 3), np.uint8)
        face = Faces(np.array([[70, 60, 170, 180]], np.float32), np.ones(1, np.float32))
        chips, origin, scale = make_chips(rgb, face)
        self.embedder.embed(chips, to_chip_coords(face, origin, scale))

    def stale(self, msg: FrameMsg) -> FrameMsg:
        """A live frame older than its max_age: its faces go on (tracked, unnamed this frame), unembedded."""
        return msg.embedded((), None, None)

    def prepare(self, payloads: list[bytes]) -> None:
        """Runtime hook: embed the chips of every frame of one read in one model call."""
        self._ready.clear()
        if self.batch_frames <= 1:
            return
        jobs = []
        for payload in payloads:
            try:
                msg = FrameMsg.from_bytes(payload)
            except MessageError:
                continue  # handle() dead-letters it
            if msg.shots.rows:
                jobs.append(((msg.camera, msg.run, msg.seq), *self._inputs(msg)))
        if not jobs:
            return
        chips = [c for _, cs, _, _ in jobs for c in cs]
        boxes = [b for _, _, _, b in jobs]
        vectors = self.embedder.embed(
            chips,
            Faces(
                np.concatenate([b.xyxy for b in boxes]),
                np.concatenate([b.confidence for b in boxes]),
            ),
        )
        start = 0
        for key, cs, idx, _ in jobs:
            self._ready[key] = (idx, vectors[start : start + len(cs)])
            start += len(cs)

    def handle(self, msg: FrameMsg) -> list[Output]:
        out = keys.in_shard_of(keys.EMBEDDED, msg.camera)
        if not msg.shots.rows:
            return [(out, msg.embedded((), None, None))]
        ready = self._ready.pop((msg.camera, msg.run, msg.seq), None)
        if ready is not None:
            idx, vectors = ready
        else:
            chips, idx, boxes = self._inputs(msg)
            vectors = self.embedder.embed(chips, boxes)
        return [(out, msg.embedded(idx, vectors, self.embedder.name))]

    def _inputs(self, msg: FrameMsg) -> tuple[list[np.ndarray], list[int], Faces]:
        shots = msg.shots
        chips, keep = [], []
        for j, data in enumerate(shots.chips):
            try:
                chips.append(decode_jpeg(data))
                keep.append(j)
            except ImageError as exc:  # one bad chip loses that face's embedding, nothing else
                log.warning("camera %s frame %d: chip %d: %s", msg.camera, msg.seq, j, exc)
        idx = [shots.rows[j] for j in keep]
        boxes = to_chip_coords(msg.faces[idx], shots.origin[keep], shots.scale[keep])
        return chips, idx, boxes
