"""Real detections of a clip, as the tracker stage receives them: the first frames of
hamilton_360p through the real detector stage (MTCNN, every second frame detected, scene
histograms, chips), computed once per test process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2

from workers.detect import DetectHandler
from workers.messages import FrameMeta, FrameMsg
from workers.models.chips import encode_jpeg
from workers.models.mtcnn import MtcnnDetector

CAMERA = "hamilton_360p"


@lru_cache(maxsize=2)
def detected_frames(video: Path, frames: int = 120, run: str = "r1") -> tuple[FrameMsg, ...]:
    """``frames`` detected frames of ``video``, then its end of stream."""
    detector = DetectHandler(MtcnnDetector("cpu"), lambda: [CAMERA], every_n=2)
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    out: list[FrameMsg] = []
    try:
        for seq in range(frames):
            ok, bgr = cap.read()
            assert ok, f"{video}: frame {seq} unreadable"
            meta = FrameMeta(
                camera=CAMERA,
                run=run,
                seq=seq,
                ts=seq / fps,
                capture_time=0.0,
                width=bgr.shape[1],
                height=bgr.shape[0],
            )
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            [(_, msg)] = detector.handle(FrameMsg(meta, jpeg=encode_jpeg(rgb, 90)))
            out.append(msg)
    finally:
        cap.release()
    last = out[-1].meta
    eos = FrameMeta(CAMERA, run, frames, last.ts, 0.0, last.width, last.height)
    return (*out, FrameMsg.end_of_stream(eos))
