"""Detector stage: frames -> faces with landmarks and face chips (the frame JPEG stops here).

With ``every_n > 1`` MTCNN runs on every n-th frame only (and on any frame the
grabber flagged as a shot cut: a cut needs fresh boxes at once); the other frames
go on with ``detected=False`` and the tracker carries its boxes over them, as
DeepStream's detector interval does; a live frame that is already later than
``lag_budget_s`` lowers the rate further, to every ``max_every_n``-th frame,
until the detector has caught up. With ``batch_frames > 1`` the runtime's
``prepare`` hook hands over a whole read of entries, and the frames to detect go
through MTCNN as one batch (what pays on a GPU).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np

from config.errors import ImageError, MessageError
from tracker.faces import Faces
from workers import keys
from workers.handler import Handler, Output
from workers.messages import FRAME, FrameMsg, Shots
from workers.models.chips import decode_jpeg, encode_jpeg, make_chips, to_chip_coords
from workers.quality import chip_sharpness
from workers.scene import histogram_distance, scene_histogram

log = logging.getLogger(__name__)


class Detector(Protocol):
    def detect(self, rgb: np.ndarray) -> Faces: ...


class DetectHandler(Handler):
    kind = "detect"
    group = keys.GROUP_DETECT

    def __init__(
        self,
        detector: Detector,
        cameras: Callable[[], list[str]],
        jpeg_quality: int = 90,
        every_n: int = 1,
        cut_threshold: float = 0.25,
        batch_frames: int = 1,
        max_every_n: int = 0,
        lag_budget_s: float = 0.25,
        clock: Callable[[], float] = time.time,
    ):
        self.detector = detector
        # live frames older than lag_budget_s: detect only every max_every_n-th until caught up
        self.max_every_n = max(max_every_n, every_n)
        self.lag_budget_s = lag_budget_s
        self.clock = clock
        self.cameras = cameras  # the set of cameras changes while we run
        self.jpeg_quality = jpeg_quality
        self.every_n = every_n
        self.cut_threshold = cut_threshold
        self.batch_frames = batch_frames
        self._last_scene: dict[
            str, np.ndarray
        ] = {}  # camera -> histogram of the last frame seen here
        self._ready: dict[tuple[str, str, int], tuple[np.ndarray, np.ndarray, Faces | None]] = {}

    def input_streams(self) -> list[str]:
        return [keys.frames(c) for c in sorted(self.cameras())]

    def warm_up(self) -> None:
        """Runtime hook, once before the first read: the first pass through torch is several times
        slower than the next (allocations, kernels picked per shape); a live camera's first frames
        should not pay for it."""
        self.detector.detect(np.random.default_rng(0).integers(0, 255, (360, 640, 3), np.uint8))

    def stale(self, msg: FrameMsg) -> FrameMsg:
        """A live frame older than its max_age: not worth detecting any more; it still flows on, counted."""
        return msg.drop("stale")

    def prepare(self, payloads: list[bytes]) -> None:
        """Runtime hook, before the entries of one read are handled: detect their frames as one batch."""
        self._ready.clear()
        if self.batch_frames <= 1 or not hasattr(self.detector, "detect_many"):
            return
        todo: list[tuple[tuple[str, str, int], np.ndarray, np.ndarray]] = []
        for payload in payloads:
            try:
                msg = FrameMsg.from_bytes(payload)
                if msg.status != FRAME:
                    continue
                rgb = decode_jpeg(msg.jpeg or b"")
            except (MessageError, ImageError):
                continue  # handle() reports it
            scene = self._scene(msg, rgb)
            key = (msg.camera, msg.run, msg.seq)
            if self._wants_detection(msg, scene):
                todo.append((key, rgb, scene))
            else:
                self._ready[key] = (rgb, scene, None)
        for i in range(0, len(todo), self.batch_frames):
            part = todo[i : i + self.batch_frames]
            for (key, rgb, scene), faces in zip(
                part, self.detector.detect_many([rgb for _, rgb, _ in part]), strict=True
            ):
                self._ready[key] = (rgb, scene, faces)

    def handle(self, msg: FrameMsg) -> list[Output]:
        out = keys.in_shard_of(keys.DETECTED, msg.camera)
        if msg.status != FRAME:
            return [(out, msg)]
        ready = self._ready.pop((msg.camera, msg.run, msg.seq), None)
        if ready is not None:
            rgb, scene, faces = ready
        else:
            try:
                rgb = decode_jpeg(msg.jpeg or b"")
            except ImageError as exc:
                # a corrupt frame is accounted for downstream, never silently lost
                log.warning("camera %s frame %d: %s", msg.camera, msg.seq, exc)
                return [(out, msg.drop("corrupt_frame"))]
            scene = self._scene(msg, rgb)
            faces = self.detector.detect(rgb) if self._wants_detection(msg, scene) else None
        if faces is None:
            return [(out, msg.undetected(scene))]
        chips, origin, scale = make_chips(rgb, faces)
        jpegs = tuple(encode_jpeg(c, self.jpeg_quality) for c in chips)
        # sharpness of the chips before JPEG: it only ranks a track's shots against each other, all
        # encoded at one quality, and decoding every chip again cost the detector ~0.16 ms a face;
        # the tracker then needs no pixels
        boxes = to_chip_coords(faces, origin, scale).xyxy
        sharp = chip_sharpness(chips, boxes)
        faces = Faces(faces.xyxy, faces.confidence, faces.landmarks, faces.embeddings, sharp)
        shots = Shots(tuple(range(len(faces))), jpegs, origin, scale)
        return [(out, msg.detected(faces, shots, scene))]

    @staticmethod
    def _scene(msg: FrameMsg, rgb: np.ndarray) -> np.ndarray:
        return msg.scene if msg.scene is not None else scene_histogram(rgb, rgb=True)

    def _wants_detection(self, msg: FrameMsg, scene: np.ndarray) -> bool:
        previous, self._last_scene[msg.camera] = self._last_scene.get(msg.camera), scene
        n = self.every_n
        live = msg.ts > 1e9  # live sources carry epoch timestamps, files seconds from their start
        if live and self.max_every_n > n and self.clock() - msg.capture_time > self.lag_budget_s:
            n = self.max_every_n  # behind a live source: shed detector load rather than latency
        if n <= 1 or msg.seq % n == 0:
            return True
        if msg.scene is not None:
            return (
                msg.cut
            )  # the grabber saw every frame in order: same answer in every detector process
        # a producer that sends no histogram: compare with the last frame this process saw
        return previous is None or histogram_distance(previous, scene) > self.cut_threshold
