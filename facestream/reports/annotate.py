"""Draw result records on the video they came from, and names on a photo.

Frames are read with OpenCV, like the grabber reads them (so a record's ``frame`` is the same
frame here), and written as H.264 (libx264, yuv420p, ``+faststart``) through PyAV, whose wheel
ships its own FFmpeg: no ffmpeg binary is needed. The output has the input's frame count and
frame rate; frames without records are copied as they are.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from config.errors import ConfigError
from facestream.reports.screen_time import UNIDENTIFIED_PREFIX, UNKNOWN_PREFIX, labelled

log = logging.getLogger(__name__)
UNDECIDED = (160, 160, 160)  # RGB: a track not yet recognised, nor found to be nobody enrolled
UNKNOWN = (255, 150, 0)
NAMED = ((40, 200, 80), (60, 140, 255), (230, 60, 200), (240, 220, 40), (40, 210, 220))


@dataclass(frozen=True)
class Box:
    xyxy: tuple[float, float, float, float]
    text: str
    colour: tuple[int, int, int]


@dataclass
class AnnotateStats:
    frames: int  # frames written (= frames read)
    boxes: int  # boxes drawn
    seconds: float  # wall time
    fps: float  # the clip's own frame rate

    @property
    def frames_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def colour_for(label: str | None) -> tuple[int, int, int]:
    if not label or label.startswith(UNIDENTIFIED_PREFIX):
        return UNDECIDED
    if label.startswith(UNKNOWN_PREFIX):
        return UNKNOWN
    return NAMED[zlib.crc32(label.encode()) % len(NAMED)]  # stable across runs and processes


def short_track(track_id: str) -> str:
    """``camera-3fa9c1-17`` -> ``#17``: unique within one run of a camera, and short to draw."""
    return "#" + track_id.rsplit("-", 1)[-1]


def boxes_by_frame(records: list[dict]) -> dict[int, list[Box]]:
    """frame -> its boxes, from the face records of ONE camera and run. A record drawn before its
    track was decided shows the label the track got later (as the screen-time report counts it)."""
    runs = {(r.get("camera"), r.get("run")) for r in records}
    if len(runs) > 1:
        raise ConfigError(
            f"results: expected the records of one camera and run, got {len(runs)} "
            f"({sorted(map(str, runs))[:4]}); choose one with --camera and --run"
        )
    found: dict[int, list[Box]] = defaultdict(list)
    for label, r in labelled(records):
        x1, y1, x2, y2 = (float(v) for v in r["bbox"])
        track = short_track(r["track_id"])
        text = track if label.startswith(UNIDENTIFIED_PREFIX) else f"{label} {track}"
        found[r["frame"]].append(Box((x1, y1, x2, y2), text, colour_for(label)))
    return found


def draw(rgb: np.ndarray, boxes: list[Box]) -> None:
    """Boxes and their captions, in place; the caption sits above the box, or inside at the top."""
    import cv2

    scale = max(0.4, rgb.shape[0] / 900)
    thick = max(1, round(rgb.shape[0] / 360))
    for b in boxes:
        x1, y1, x2, y2 = (int(round(v)) for v in b.xyxy)
        cv2.rectangle(rgb, (x1, y1), (x2, y2), b.colour, thick + 1)
        (tw, th), base = cv2.getTextSize(b.text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        top = y1 - th - base - 4 if y1 - th - base - 4 >= 0 else y1
        cv2.rectangle(rgb, (x1, top), (x1 + tw + 4, top + th + base + 4), b.colour, -1)
        cv2.putText(
            rgb,
            b.text,
            (x1 + 2, top + th + 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (0, 0, 0),
            thick,
            cv2.LINE_AA,
        )


def annotate_video(
    video: Path,
    records: list[dict],
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> AnnotateStats:
    """Write ``out`` (H.264 MP4): every frame of ``video`` with the records' boxes drawn on it.
    ``progress(done, total)`` is called every few frames."""
    import av
    import cv2

    if out.suffix.lower() != ".mp4":
        raise ConfigError(f"annotate output {out}: expected a file name ending in .mp4")
    if "libx264" not in av.codecs_available:
        raise ConfigError(
            f"annotate: expected PyAV with the libx264 encoder (its wheels ship it), got PyAV "
            f"{av.__version__} without it"
        )
    boxes = boxes_by_frame(records)
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise ConfigError(f"video {video}: expected a video file OpenCV can read, got none")
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    rate = Fraction(fps).limit_denominator(1001)  # 29.97002997 -> 30000/1001
    started = time.monotonic()
    frames = drawn = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with av.open(str(out), "w", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=rate)
            # yuv420p needs even sizes; the odd last row or column is cropped
            stream.width, stream.height = width - width % 2, height - height % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "20", "preset": "veryfast"}
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                rgb = np.ascontiguousarray(bgr[: stream.height, : stream.width, ::-1], np.uint8)
                if frames in boxes:
                    draw(rgb, boxes[frames])
                    drawn += len(boxes[frames])
                frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
                frame.pts = frames
                frame.time_base = 1 / rate
                container.mux(stream.encode(frame))
                frames += 1
                if progress is not None and frames % 10 == 0:
                    progress(frames, total)
            container.mux(stream.encode(None))
    finally:
        capture.release()
    if progress is not None:
        progress(frames, frames)
    last = max(boxes, default=-1)
    if last >= frames:
        log.warning("records reach frame %d but %s has %d frames", last, video, frames)
    return AnnotateStats(frames, drawn, time.monotonic() - started, fps)


def annotate_photo(path: Path, faces: list[dict], out: Path) -> None:
    """``faces`` from identify (bbox, name, score) drawn on the photo, saved as ``out``."""
    from PIL import Image

    from workers.models.chips import read_image

    rgb = read_image(str(path))  # decoded as identify decoded it, so the boxes fit
    boxes = [
        Box(
            tuple(f["bbox"]),
            f"{f['name']} {f['score']:.2f}" if f["name"] else "unknown",
            colour_for(f["name"]) if f["name"] else UNKNOWN,
        )
        for f in faces
    ]
    draw(rgb, boxes)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        Image.fromarray(rgb).save(out)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"--annotate {out}: expected a writable image file, got {exc}") from None
