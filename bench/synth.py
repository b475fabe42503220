"""Ground-truth test videos: real faces from ../shared/faces composited onto synthetic backgrounds.

A person is a face sprite (an elliptical head crop of a real photo) moving on
a known trajectory of keyframes ``(t s, x, y, size)`` in frame-relative units
(``size`` = face side / frame height). Sprites with a larger ``z`` are drawn on
top. Ground truth per frame: each person's face box and how much of it is
visible (inside the frame, not under a sprite drawn on top). The same scene
renders at any resolution and frame rate.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

SHARED = Path(__file__).resolve().parents[2] / "shared"
HEAD = 1.9  # sprite side, in face sides
MIN_VISIBLE = 0.6  # a face less visible than this is not ground truth (and not a miss)

# (person, enrolled?, photo used in the videos); enrolled people are enrolled from OTHER photos
CAST = {
    "obama": (True, "faces/probes/obama1.jpg"),
    "biden": (True, "faces/gallery/biden/biden2.jpg"),
    "kit_harington": (True, "faces/probes/johnsnow_test1.jpg"),
    "rose_leslie": (True, "faces/gallery/rose_leslie/img2.jpg"),
    "alex_lacamoire": (True, "faces/probes/alex_lacamoire1.jpg"),
    "angelina_jolie": (False, "faces/singles/angelina_jolie/1.jpg"),
    "kate_siegel": (False, "faces/singles/kate_siegel/1.jpg"),
    "paul_rudd": (False, "faces/singles/paul_rudd/1.jpg"),
    "shea_whigham": (False, "faces/singles/shea_whigham/1.jpg"),
}
HELD_OUT = {"faces/gallery/biden/biden2.jpg", "faces/gallery/rose_leslie/img2.jpg"}


def enrollment_photos() -> dict[str, list[Path]]:
    """Gallery photos per person, minus the ones the videos show (lin_manuel_miranda is a distractor)."""
    out = {}
    for folder in sorted((SHARED / "faces" / "gallery").iterdir()):
        photos = [p for p in sorted(folder.iterdir()) if str(p.relative_to(SHARED)) not in HELD_OUT]
        out[folder.name] = photos
    return out


@dataclass
class Sprite:
    rgba: np.ndarray  # (S, S, 4) float32, 0..1
    face: np.ndarray  # face box inside the sprite, fractions of its side: x1, y1, x2, y2


def make_sprite(rgb: np.ndarray, box: np.ndarray) -> Sprite:
    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 - 0.1 * side
    half = HEAD * side / 2
    S = int(round(2 * half))
    pad = S
    padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    ox, oy = int(round(cx - half)) + pad, int(round(cy - half)) + pad
    crop = padded[oy : oy + S, ox : ox + S].astype(np.float32) / 255
    yy, xx = np.mgrid[0:S, 0:S].astype(np.float32)
    r = ((xx - S / 2) / (0.40 * S)) ** 2 + ((yy - S / 2) / (0.48 * S)) ** 2
    alpha = np.clip((1.0 - r) / 0.15, 0, 1)  # feathered ellipse
    fx1, fy1 = (x1 - (ox - pad)) / S, (y1 - (oy - pad)) / S
    face = np.array([fx1, fy1, fx1 + (x2 - x1) / S, fy1 + (y2 - y1) / S], np.float32)
    return Sprite(np.dstack([crop, alpha]), face)


@dataclass
class Person:
    name: str
    keys: list[tuple[float, float, float, float]]  # (t, x, y, size), t increasing
    z: int = 0

    def at(self, t: float) -> tuple[float, float, float] | None:
        ts = [k[0] for k in self.keys]
        if t < ts[0] or t > ts[-1]:
            return None
        x, y, s = (float(np.interp(t, ts, [k[i] for k in self.keys])) for i in (1, 2, 3))
        return x, y, s


@dataclass
class Scene:
    name: str
    duration_s: float
    people: list[Person]
    seed: int = 0
    resolutions: tuple[tuple[int, int], ...] = ((640, 360),)


def _background(seed: int, w: int, h: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    low = rng.uniform(0.15, 0.85, (6, 10, 3)).astype(np.float32)
    img = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    for _ in range(8):  # "furniture": flat rectangles
        x0, y0 = rng.uniform(0, 1, 2)
        ww, hh = rng.uniform(0.05, 0.3, 2)
        cv2.rectangle(
            img,
            (int(x0 * w), int(y0 * h)),
            (int((x0 + ww) * w), int((y0 + hh) * h)),
            tuple(float(c) for c in rng.uniform(0.1, 0.9, 3)),
            -1,
        )
    img = cv2.GaussianBlur(img, (0, 0), 0.004 * w)
    return np.clip(img + rng.normal(0, 0.01, img.shape).astype(np.float32), 0, 1)


@dataclass
class FrameTruth:
    ids: list[str]  # people whose face is ground truth in this frame
    boxes: np.ndarray  # (K, 4) their face boxes, source pixels
    hidden: (
        np.ndarray
    )  # (M, 4) boxes of faces present but not visible enough (ignored by the metrics)
    # person -> the visible fraction of their face, for everyone drawn (not kept in caches)
    visible: dict[str, float] = field(default_factory=dict)


def _paste(canvas: np.ndarray, sprite: Sprite, cx: float, cy: float, face_px: float) -> np.ndarray:
    """Draw a sprite whose face is ``face_px`` wide centred at (cx, cy); returns its face and head boxes."""
    fw = sprite.face[2] - sprite.face[0]
    S = max(2, int(round(face_px / fw)))
    img = cv2.resize(
        sprite.rgba,
        (S, S),
        interpolation=cv2.INTER_AREA if S < len(sprite.rgba) else cv2.INTER_LINEAR,
    )
    fcx, fcy = (sprite.face[0] + sprite.face[2]) / 2 * S, (sprite.face[1] + sprite.face[3]) / 2 * S
    ox, oy = int(round(cx - fcx)), int(round(cy - fcy))
    h, w = canvas.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + S, w), min(oy + S, h)
    if x1 > x0 and y1 > y0:
        part = img[y0 - oy : y1 - oy, x0 - ox : x1 - ox]
        a = part[..., 3:]
        canvas[y0:y1, x0:x1] = canvas[y0:y1, x0:x1] * (1 - a) + part[..., :3] * a
    return np.array([ox, oy, ox, oy], np.float32) + sprite.face * S, np.array(
        [ox, oy, ox + S, oy + S], np.float32
    )


def _visible(box: np.ndarray, covers: list[np.ndarray], w: int, h: int) -> float:
    x1, y1, x2, y2 = box
    area = max((x2 - x1) * (y2 - y1), 1e-6)
    mask = np.zeros((32, 32), bool)
    gx = np.linspace(x1, x2, 32)
    gy = np.linspace(y1, y2, 32)
    X, Y = np.meshgrid(gx, gy)
    mask |= (X < 0) | (X >= w) | (Y < 0) | (Y >= h)
    for c in covers:  # the covering sprite's ellipse
        cx, cy, rx, ry = (
            (c[0] + c[2]) / 2,
            (c[1] + c[3]) / 2,
            (c[2] - c[0]) * 0.40,
            (c[3] - c[1]) * 0.48,
        )
        mask |= ((X - cx) / rx) ** 2 + ((Y - cy) / ry) ** 2 < 1
    return float(1.0 - mask.mean()) if area > 0 else 0.0


def render(scene: Scene, sprites: dict[str, Sprite], width: int, height: int, fps: float):
    """Yield ``(frame index, t, rgb uint8, FrameTruth)`` for every frame of the scene."""
    bg = _background(scene.seed, width, height)
    n = int(round(scene.duration_s * fps))
    for k in range(n):
        t = k / fps
        canvas = bg.copy()
        placed = []
        for p in sorted(scene.people, key=lambda p: p.z):
            pos = p.at(t)
            if pos is None:
                continue
            x, y, s = pos
            face_px = s * height
            box, head = _paste(canvas, sprites[p.name], x * width, y * height, face_px)
            placed.append((p.name, box, head))
        ids, boxes, hidden, seen = [], [], [], {}
        for i, (name, box, _) in enumerate(placed):
            covers = [head for _, _, head in placed[i + 1 :]]
            seen[name] = _visible(box, covers, width, height)
            if seen[name] >= MIN_VISIBLE:
                ids.append(name)
                boxes.append(box)
            else:
                hidden.append(box)
        rgb = (np.clip(canvas, 0, 1) * 255).astype(np.uint8)
        yield (
            k,
            t,
            rgb,
            FrameTruth(
                ids,
                np.array(boxes, np.float32).reshape(-1, 4),
                np.array(hidden, np.float32).reshape(-1, 4),
                seen,
            ),
        )


def crossings(scene: Scene, step_s: float = 0.02) -> int:
    """Pairs of faces passing each other (x order swaps while they overlap vertically)."""
    count = 0
    people = scene.people
    for i in range(len(people)):
        for j in range(i + 1, len(people)):
            last = 0
            for t in np.arange(0, scene.duration_s, step_s):
                a, b = people[i].at(t), people[j].at(t)
                if a is None or b is None:
                    last = 0
                    continue
                if abs(a[1] - b[1]) > (a[2] + b[2]) / 2:
                    continue
                sign = 1 if a[0] > b[0] else -1
                if last and sign != last:
                    count += 1
                last = sign
    return count
