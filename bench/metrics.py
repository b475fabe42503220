"""MOTA, IDF1 and ID switches (motmetrics), and named-frame precision and recall.

Faces that are present but less than ``MIN_VISIBLE`` visible are neither
ground truth nor false positives: a reported face over one of them is dropped
before scoring. A reported face matches a visible face at IoU >= 0.5.

- named-frame precision: 1 - (reported faces whose name is wrong) / (reported faces with a name);
  a name on a face of someone not enrolled, or on no face at all, is wrong;
- named-frame recall: visible faces of enrolled people reported with their right name / all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import motmetrics as mm
import numpy as np
from scipy.optimize import linear_sum_assignment

from bench.detections import Video
from bench.synth import CAST
from bench.tracker_replay import Output
from tracker.iou import iou_matrix

IOU_MIN = 0.5


@dataclass
class Counts:
    named: int = 0
    named_wrong: int = 0
    enrolled_visible: int = 0
    enrolled_named_right: int = 0


def _match(gt: np.ndarray, hyp: np.ndarray) -> list[tuple[int, int]]:
    if not len(gt) or not len(hyp):
        return []
    iou = iou_matrix(gt, hyp)
    rows, cols = linear_sum_assignment(-iou)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= IOU_MIN]


def accumulate(video: Video, out: Output, counts: Counts) -> mm.MOTAccumulator:
    acc = mm.MOTAccumulator(auto_id=True)
    gt_ids: dict[str, int] = {}
    hyp_ids: dict[str, int] = {}
    frame = np.array([video.width, video.height, video.width, video.height], np.float32)
    for truth, boxes, ids, names in zip(video.truth, out.boxes, out.ids, out.names, strict=True):
        # a face half out of the frame is detected as its visible part: score against that part
        truth = type(truth)(truth.ids, np.clip(truth.boxes, 0, frame), truth.hidden)
        boxes = np.clip(boxes, 0, frame)
        keep = [j for j, tid in enumerate(ids) if tid is not None]
        hyp = boxes[keep]
        matched = {c: r for r, c in _match(truth.boxes, hyp)}
        if len(truth.hidden) and len(hyp):
            over_hidden = iou_matrix(hyp, truth.hidden).max(axis=1) >= 0.3
            keep = [j for c, j in enumerate(keep) if c in matched or not over_hidden[c]]
            hyp = boxes[keep]
            matched = {c: r for r, c in _match(truth.boxes, hyp)}
        # motmetrics' own iou_matrix uses np.asfarray, gone in numpy 2: same distances here
        iou = iou_matrix(truth.boxes, hyp)
        dist = np.where(iou >= IOU_MIN, 1.0 - iou, np.nan)
        # motmetrics 1.4 wants numeric ids
        acc.update(
            [_num(gt_ids, i) for i in truth.ids], [_num(hyp_ids, ids[j]) for j in keep], dist
        )
        for c, j in enumerate(keep):
            if names[j] is not None:
                counts.named += 1
                right = c in matched and truth.ids[matched[c]] == names[j]
                counts.named_wrong += not right
        by_gt = {r: keep[c] for c, r in matched.items()}
        for r, person in enumerate(truth.ids):
            if CAST[person][0]:
                counts.enrolled_visible += 1
                counts.enrolled_named_right += r in by_gt and names[by_gt[r]] == person
    return acc


def _num(table: dict[str, int], key: str) -> int:
    return table.setdefault(key, len(table))


def summarize(accs: list[mm.MOTAccumulator], names: list[str], counts: Counts) -> dict[str, float]:
    mh = mm.metrics.create()
    df = mh.compute_many(
        accs, metrics=["mota", "idf1", "num_switches"], names=names, generate_overall=True
    )
    overall = df.loc["OVERALL"]
    return {
        "MOTA": float(overall["mota"]),
        "IDF1": float(overall["idf1"]),
        "IDsw": int(overall["num_switches"]),
        "named_precision": 1.0 - counts.named_wrong / counts.named if counts.named else 1.0,
        "named_recall": counts.enrolled_named_right / counts.enrolled_visible
        if counts.enrolled_visible
        else 1.0,
    }
