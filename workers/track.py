"""Tracker stage: per camera, in frame order, detections -> track ids; picks what to embed.

Frames may arrive out of order when several detectors run, so each camera has
a reorder buffer; a frame that never comes within ``reorder_wait_s`` is passed
on as dropped ("reorder_timeout") so that every frame is still accounted for.
Only new tracks and every ``embed_every_n``-th face of a track keep their chip
(DESIGN.md section 2): that bounds the embedder's work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config.settings import Settings
from tracker.iou_tracker import IouTracker
from tracker.reorder import ReorderBuffer
from tracker.scene import CutDetector
from workers import keys
from workers.carry import BoxCarrier, embed_due
from workers.messages import FrameMsg
from workers.runtime import Output

log = logging.getLogger(__name__)


@dataclass
class CameraState:
    run: str
    tracker: IouTracker
    reorder: ReorderBuffer
    cuts: CutDetector
    next_seq: int = 0
    late: int = 0
    last: FrameMsg | None = field(default=None, repr=False)
    carrier: BoxCarrier = field(default_factory=BoxCarrier)  # boxes for frames without detection


class TrackHandler:
    kind = "track"
    group = keys.GROUP_TRACK

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic):
        self.settings = settings
        self.clock = clock
        self.cameras: dict[str, CameraState] = {}

    def input_streams(self) -> list[str]:
        return [keys.DETECTED]

    def handle(self, msg: FrameMsg) -> list[Output]:
        st = self.cameras.get(msg.camera)
        if st is None or st.run != msg.run:
            if st is not None:
                log.info("camera %s: new run %s, tracker state reset", msg.camera, msg.run)
            st = self.cameras[msg.camera] = self._new_state(msg)
        if msg.seq < st.next_seq:
            # late or duplicate (redelivery): never rewinds a track; still accounted for as dropped
            st.late += 1
            return [(keys.TRACKED, msg.evolve(dropped="late", chips=(), embed_idx=(), track_ids=()))
                    ] if msg.kind == "frame" and not msg.dropped else []
        return self._release(st, st.reorder.push(msg.seq, msg, self.clock()))

    def idle(self) -> list[Output]:
        """Called by the runtime between polls: releases frames whose predecessors never came."""
        out: list[Output] = []
        for st in self.cameras.values():
            out += self._release(st, st.reorder.poll(self.clock()))
        return out

    # --------------------------------------------------------------------------------
    def _new_state(self, msg: FrameMsg) -> CameraState:
        s = self.settings
        return CameraState(
            run=msg.run,
            tracker=IouTracker(msg.camera, iou_min=s.track_iou_min, max_lost_s=s.track_max_lost_s),
            reorder=ReorderBuffer(s.reorder_wait_s),
            cuts=CutDetector(s.scene_cut_threshold),
        )

    def _release(self, st: CameraState, released: list) -> list[Output]:
        out: list[Output] = []
        for seq, msg in released:
            for missing in range(st.next_seq, seq):  # skipped by the reorder buffer's timeout
                out.append((keys.TRACKED, msg.evolve(
                    seq=missing, kind="frame", dropped="reorder_timeout", faces=type(msg.faces).empty(),
                    embed_idx=(), chips=(), chip_origin=msg.chip_origin[:0], chip_scale=msg.chip_scale[:0],
                    track_ids=(), ended=())))
            st.next_seq = seq + 1
            out.append((keys.TRACKED, self._track(st, msg)))
        return out

    def _track(self, st: CameraState, msg: FrameMsg) -> FrameMsg:
        if msg.kind == "eos":
            return msg.evolve(ended=tuple(st.tracker.finish()))
        if msg.dropped:
            return msg
        cut_ended = st.tracker.finish() if st.cuts.is_cut(msg.scene) else []
        if cut_ended:
            log.info("camera %s frame %d: shot cut, %d track(s) ended", msg.camera, msg.seq, len(cut_ended))
            st.carrier.clear()
        if not msg.detected:  # detect_every_n: the tracks of the last detected frame, moved on
            faces, track_ids = st.carrier.carry(msg.ts)
            return msg.evolve(faces=faces, track_ids=track_ids, embed_idx=(), chips=(),
                              chip_origin=msg.chip_origin[:0], chip_scale=msg.chip_scale[:0],
                              ended=tuple(cut_ended), scene=None)
        update = st.tracker.update(msg.faces, msg.ts)
        st.carrier.observe(update.track_ids, msg.faces, msg.ts)
        chip_of = {i: j for j, i in enumerate(msg.embed_idx)}
        chosen = [i for i in range(len(msg.faces)) if embed_due(update.hits[i], self.settings) and i in chip_of]
        rows = [chip_of[i] for i in chosen]
        return msg.evolve(
            track_ids=tuple(update.track_ids),
            embed_idx=tuple(chosen),
            chips=tuple(msg.chips[j] for j in rows) if msg.chips else (),
            chip_origin=msg.chip_origin[rows],
            chip_scale=msg.chip_scale[rows],
            ended=tuple(cut_ended) + tuple(update.ended),
            scene=None,
        )
