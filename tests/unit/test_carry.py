"""Detect every n-th frame: carried boxes, the detector's skip decision, the embedding schedule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tracker.faces import Faces
from workers.carry import BoxCarrier
from workers.detect import DetectHandler
from workers.messages import FrameMeta, FrameMsg


def _faces(*boxes) -> Faces:
    xyxy = np.asarray(boxes, np.float32)
    lm = np.repeat(((xyxy[:, :2] + xyxy[:, 2:]) / 2)[:, None, :], 5, axis=1)
    return Faces(xyxy, np.ones(len(boxes)), lm)


def test_carrier_moves_boxes_at_their_last_velocity() -> None:
    c = BoxCarrier(max_carry_s=0.5)
    assert len(c.carry(0.0)[0]) == 0  # nothing seen yet
    c.observe(["a", "b"], _faces([0, 0, 10, 10], [50, 50, 60, 60]), 0.0)
    c.observe(
        ["a", "c"], _faces([10, 0, 20, 10], [80, 80, 90, 90]), 0.1
    )  # a moved 100 px/s; b gone; c new
    faces, ids = c.carry(0.15)
    assert ids == ("a", "c")
    np.testing.assert_allclose(faces.xyxy[0], [15, 0, 25, 10], atol=1e-4)
    np.testing.assert_allclose(faces.xyxy[1], [80, 80, 90, 90])  # new track: no velocity yet
    np.testing.assert_allclose(faces.landmarks[0, 0], [20, 5], atol=1e-4)
    far, _ = c.carry(10.0)  # extrapolation is capped
    np.testing.assert_allclose(far.xyxy[0], [60, 0, 70, 10], atol=1e-4)
    c.clear()
    assert c.carry(0.2)[1] == ()


class _CountingDetector:
    def __init__(self) -> None:
        self.calls = 0

    def detect(self, rgb: np.ndarray) -> Faces:
        self.calls += 1
        return Faces.empty()


def _frame(seq: int, colour: tuple[int, int, int]) -> FrameMsg:
    import cv2

    img = np.full((90, 160, 3), colour, np.uint8)
    jpeg = cv2.imencode(".jpg", img)[1].tobytes()
    return FrameMsg(
        FrameMeta(
            camera="c", run="r", seq=seq, ts=seq / 25, capture_time=0.0, width=160, height=90
        ),
        jpeg=jpeg,
    )


def test_detector_skips_frames_but_not_shot_cuts() -> None:
    det = _CountingDetector()
    handler = DetectHandler(det, lambda: ["c"], every_n=3)
    colours = [(200, 30, 30)] * 4 + [(20, 200, 40)] * 4  # a cut at frame 4
    out = [handler.handle(_frame(i, c))[0][1] for i, c in enumerate(colours)]
    assert [m.detector_ran for m in out] == [True, False, False, True, True, False, True, False]
    assert det.calls == 4
    assert all(m.jpeg is None and m.scene is not None for m in out)
    again = FrameMsg.from_bytes(out[1].to_bytes())
    assert (
        again.detector_ran is False and FrameMsg.from_bytes(out[0].to_bytes()).detector_ran is True
    )


def _grabbed(colours: list[tuple[int, int, int]]) -> list[FrameMsg]:
    """Frames as the grabber publishes them: with its histogram and cut flag."""
    from workers.scene import CutDetector, scene_histogram

    cuts, out = CutDetector(0.25), []
    for i, colour in enumerate(colours):
        msg = _frame(i, colour)
        scene = scene_histogram(
            np.full((90, 160, 3), colour[::-1], np.uint8)
        )  # BGR, as OpenCV decodes
        out.append(replace(msg, meta=replace(msg.meta, cut=cuts.is_cut(scene)), scene=scene))
    return out


def test_several_detector_processes_skip_the_same_frames_as_one() -> None:
    """The cut flag comes from the grabber, so how frames are spread over detectors does not matter."""
    colours = (
        [(200, 30, 30)] * 5 + [(20, 200, 40)] * 6 + [(30, 30, 200)] * 3
    )  # cuts at frames 5 and 11
    frames = _grabbed(colours)
    assert [m.cut for m in frames] == [i in (5, 11) for i in range(len(colours))]
    one = DetectHandler(_CountingDetector(), lambda: ["c"], every_n=4)
    alone = [one.handle(m)[0][1].detector_ran for m in frames]
    three = [DetectHandler(_CountingDetector(), lambda: ["c"], every_n=4) for _ in range(3)]
    spread = [
        three[(i * 7) % 3].handle(m)[0][1].detector_ran for i, m in enumerate(frames)
    ]  # any split
    assert alone == spread == [i % 4 == 0 or i in (5, 11) for i in range(len(colours))]
    assert all(FrameMsg.from_bytes(m.to_bytes()).cut == m.cut for m in frames)


def test_a_late_live_frame_lowers_the_detection_rate() -> None:
    now = 1_700_000_000.0
    det = _CountingDetector()
    handler = DetectHandler(
        det, lambda: ["c"], every_n=2, max_every_n=4, lag_budget_s=0.25, clock=lambda: now
    )
    detected = []
    for seq in range(8):
        age = 1.0 if seq >= 4 else 0.0  # frames 4.. arrive a second late
        msg = _frame(seq, (90, 90, 90))
        msg = replace(msg, meta=replace(msg.meta, ts=now - age, capture_time=now - age))
        detected.append(handler.handle(msg)[0][1].detector_ran)
    assert detected == [True, False, True, False, True, False, False, False]
