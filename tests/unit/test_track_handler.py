"""The tracker stage: out-of-order frames give the same tracks as in-order ones; late frames never rewind."""

import random
from dataclasses import replace

import numpy as np

from config.sections import EmbedSettings, TrackSettings
from tracker import Faces
from workers.messages import FrameMeta, FrameMsg, Shots
from workers.track import TrackHandler


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def frame(seq, boxes, run="r1", camera="cam", fps=10.0):
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    lm = np.zeros((len(xyxy), 5, 2), np.float32)
    for i, (x1, y1, x2, y2) in enumerate(xyxy):  # a frontal face's landmarks
        w, h = x2 - x1, y2 - y1
        lm[i] = [
            [x1 + 0.3 * w, y1 + 0.4 * h],
            [x1 + 0.7 * w, y1 + 0.4 * h],
            [x1 + 0.5 * w, y1 + 0.6 * h],
            [x1 + 0.35 * w, y1 + 0.8 * h],
            [x1 + 0.65 * w, y1 + 0.8 * h],
        ]
    faces = Faces(xyxy, np.full(len(xyxy), 0.99, np.float32), lm)
    return FrameMsg(
        FrameMeta(
            camera=camera, run=run, seq=seq, ts=seq / fps, capture_time=0.0, width=640, height=360
        ),
        faces=faces,
        shots=Shots(
            tuple(range(len(xyxy))),
            (),
            np.zeros((len(xyxy), 2), np.float32),
            np.ones(len(xyxy), np.float32),
        ),
    )


def scene(n=40):
    """Two faces crossing, one of them hidden for a few frames."""
    out = []
    for k in range(n):
        a = [20 + 12 * k, 100, 80 + 12 * k, 160]
        b = [500 - 12 * k, 110, 560 - 12 * k, 170]
        out.append(frame(k, [a, b] if not 18 <= k < 22 else [b]))
    return out


def tracked(handler, msgs, clock):
    out = []
    for m in msgs:
        clock.now += 0.01
        out += [o for _, o in handler.handle(m)]
    clock.now += 10
    out += [o for _, o in handler.idle()]
    return out


def canonical(outputs):
    """Track ids renamed by first appearance, per frame: comparable across runs."""
    names, rows = {}, []
    for m in sorted(outputs, key=lambda m: m.seq):
        rows.append(
            (
                m.seq,
                m.dropped,
                tuple(names.setdefault(t, len(names)) for t in m.faces.track_ids or ()),
                m.shots.rows,
            )
        )
    return rows


def test_shuffled_frames_give_the_same_tracks_and_shots():
    msgs = scene()
    clock = Clock()
    in_order = canonical(tracked(TrackHandler(clock=clock), msgs, clock))
    rng = random.Random(3)
    shuffled = msgs[:]
    for i in range(
        0, len(shuffled), 3
    ):  # three detectors: each window of three finishes in any order
        window = shuffled[i : i + 3]
        rng.shuffle(window)
        shuffled[i : i + 3] = window
    clock2 = Clock()
    assert canonical(tracked(TrackHandler(clock=clock2), shuffled, clock2)) == in_order
    assert len({t for _, _, ids, _ in in_order for t in ids}) == 2  # two people, two tracks


def test_late_frame_is_dropped_and_never_rewinds():
    clock = Clock()
    h = TrackHandler(TrackSettings(reorder_wait_s=0.5, reorder_wait_file_s=0.5), clock=clock)
    msgs = scene(12)
    out = tracked(h, msgs[:5] + msgs[6:10], clock)  # frame 5 is missing: given up after 0.5 s
    assert [m.dropped for m in out if m.seq == 5] == ["reorder_timeout"]
    ids_before = [m.faces.track_ids for m in out if m.seq == 9][0]
    assert h.handle(msgs[5]) == []  # already accounted for as dropped: counted, not passed on again
    assert h.cameras[msgs[5].camera].late == 1
    after = [o for _, o in h.handle(msgs[10])]
    assert after[0].faces.track_ids == ids_before


def test_new_run_resets_the_camera():
    clock = Clock()
    h = TrackHandler(clock=clock)
    first = tracked(h, scene(3), clock)
    again = tracked(h, [replace(m, meta=replace(m.meta, run="r2")) for m in scene(3)], clock)
    assert not {t for m in first for t in m.faces.track_ids} & {
        t for m in again for t in m.faces.track_ids
    }


def test_live_frames_embed_at_most_the_cap_per_frame_and_every_face_gets_its_turn():
    boxes = [
        [20, 100, 80, 160],
        [220, 100, 280, 160],
        [420, 100, 480, 160],
    ]  # three people appear at once
    msgs = [frame(k, boxes) for k in range(12)]

    def shots(embed, live):
        clock = Clock()
        out = tracked(
            TrackHandler(embed=embed, clock=clock),
            [replace(m, meta=replace(m.meta, max_age_s=1.5)) if live else m for m in msgs],
            clock,
        )
        return [
            (m.seq, [m.faces.track_ids[i] for i in m.shots.rows])
            for m in sorted(out, key=lambda m: m.seq)
        ]

    file_shots = shots(EmbedSettings(), live=False)
    assert max(len(ids) for _, ids in file_shots) == 3  # a file: throughput, not latency, so no cap
    live_shots = shots(EmbedSettings(max_per_live_frame=1), live=True)
    assert max(len(ids) for _, ids in live_shots) == 1
    first = {}
    for seq, ids in live_shots:
        for tid in ids:
            first.setdefault(tid, seq)
    assert len(first) == 3 and sorted(first.values()) == list(
        range(min(first.values()), min(first.values()) + 3)
    )
    assert max(len(ids) for _, ids in shots(EmbedSettings(max_per_live_frame=0), live=True)) == 3
