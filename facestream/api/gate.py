"""The quality gate of enrolled faces: size, sharpness, frontality, detector confidence.

A gallery face is compared with every face the cameras see, so a poor one
(tiny, blurred, in profile, or barely a face) costs accuracy for as long as it
is enrolled. Each term is measured as the tracker measures best shots
(tracker/quality.py, workers/quality.py) and compared with a setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from config.sections import ApiSettings
from tracker.quality import frontality
from workers.quality import sharpness


@dataclass
class Verdict:
    index: int  # the face within the photo (the largest when there are several)
    bbox: list[float]
    measures: dict[str, float]
    refused: list[str] = field(default_factory=list)  # why, one line per failed term

    @property
    def passed(self) -> bool:
        return not self.refused


def judge(rgb: np.ndarray, faces, limits: ApiSettings) -> Verdict | None:
    """The verdict on the largest face of a photo; None when it has no face."""
    if len(faces) == 0:
        return None
    i = int(np.argmax(faces.area))
    box = faces.xyxy[i]
    side = float(min(box[2] - box[0], box[3] - box[1]))
    sharp = float(sharpness(rgb, box[None])[0])
    front = float(frontality(faces.landmarks[i : i + 1])[0]) if faces.landmarks is not None else 1.0
    conf = float(faces.confidence[i])
    verdict = Verdict(
        i,
        [round(float(v), 1) for v in box],
        {
            "size_px": round(side, 1),
            "sharpness": round(sharp, 1),
            "frontality": round(front, 3),
            "confidence": round(conf, 4),
        },
    )
    checks = (
        ("size_px", side, limits.min_face_px, "face too small"),
        ("sharpness", sharp, limits.min_sharpness, "face too blurred"),
        ("frontality", front, limits.min_frontality, "face not frontal enough"),
        ("confidence", conf, limits.min_confidence, "detector not confident enough"),
    )
    for term, value, least, why in checks:
        if value < least:
            verdict.refused.append(f"{why}: {term} expected >= {least:g}, got {value:.3g}")
    return verdict
