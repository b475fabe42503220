"""Tracker stage: per camera, in frame order, detections -> track ids; picks what to embed.

Frames may arrive out of order when several detectors run, so each camera has
a reorder buffer; a frame that never comes within ``reorder_wait_s`` (live) or
``reorder_wait_file_s`` (files: longer than the reclaim of a dead worker's
entries, so that a killed detector loses nothing) is passed on as dropped
("reorder_timeout") so that every frame is still accounted for; a frame that
comes after its turn was already accounted for and never rewinds a track.
Only the best shots of each track keep their chip (``tracker.shots``,
DESIGN.md section 2): that bounds the embedder's work. A shot's quality comes
from the box, the landmarks and the detector's sharpness column: the tracker
never decodes a chip. Faces the tracker gives no track (unmatched
low-confidence ones) are dropped here.

With a ``TrackState`` (every worker process has one), each camera's state is committed to
Redis with the frames it releases (workers/track_state.py): a tracker killed at any frame
and restarted passes on exactly what one that never stopped would have.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace

from config.sections import EmbedSettings, TrackSettings
from config.settings import Settings
from tracker.base import Tracker
from tracker.face_tracker import FaceTracker, TrackerParams
from tracker.iou_tracker import IouTracker
from tracker.quality import face_quality
from tracker.reorder import ReorderBuffer
from tracker.shots import ShotParams, ShotPicker
from tracker.tracker_state import restore_face_tracker, restore_iou_tracker, restore_shots
from workers import keys
from workers.handler import Handler, Output
from workers.messages import FrameMsg
from workers.scene import CutDetector
from workers.state_commit import CONFLICT
from workers.track_state import CameraState, TrackState, restore_camera

log = logging.getLogger(__name__)
MAX_GAP_FILL = 4096  # in-flight windows are ~50 frames; a larger gap is a restart or garbage
_ATTEMPTS = 3  # commits of one frame against a state other trackers keep moving on


class TrackHandler(Handler):
    kind = "track"
    group = keys.GROUP_TRACK
    takes_over_pending = True  # a restarted tracker first finishes what the dead one had read

    def __init__(
        self,
        track: TrackSettings | None = None,
        embed: EmbedSettings | None = None,
        cut_threshold: float = Settings.model_fields["scene_cut_threshold"].default,
        clock: Callable[[], float] = time.monotonic,
        state: TrackState | None = None,
    ):
        self.track = track or TrackSettings()
        self.embed = embed or EmbedSettings()  # which faces become shots
        self.cut_threshold = cut_threshold
        self.clock = clock
        # memory is the committed state, or ahead of it by the frame being handled; whatever
        # fails in between drops the camera from memory, so that it is read again from Redis
        self.store = state
        self.cameras: dict[str, CameraState] = {}
        # a restarted tracker may hold frames, buffered before the kill, of a camera that sends
        # nothing more: its first idle call loads every stored camera, so they are released
        self._all_loaded = state is None

    def input_streams(self) -> list[str]:
        return keys.every_shard(keys.DETECTED)

    def handle(self, msg: FrameMsg) -> list[Output]:
        try:
            return self._handle(msg)
        except BaseException:
            self._forget(msg.camera)
            raise

    def commit(self, msg: FrameMsg, outputs: list[Output]) -> bool:
        """Runtime hook: the frames released and the camera's state in one step
        (workers/track_state.py); when another tracker moved the camera on, the frame again."""
        if self.store is None:
            return False
        try:
            for _ in range(_ATTEMPTS):
                st = self.cameras[msg.camera]
                if self.store.commit(msg.camera, st, outputs, self.clock()) != CONFLICT:
                    return True
                log.info("camera %s moved on meanwhile: frame %d again", msg.camera, msg.seq)
                self._forget(msg.camera)
                outputs = self._handle(msg)
        except BaseException:
            self._forget(msg.camera)
            raise
        raise RuntimeError(f"camera {msg.camera}: its state kept changing under frame {msg.seq}")

    def _forget(self, camera: str) -> None:
        if self.store is not None:  # else memory is all there is
            self.cameras.pop(camera, None)

    def _handle(self, msg: FrameMsg) -> list[Output]:
        st, version = self._camera(msg.camera)
        if st is None or st.run != msg.run:
            if st is not None:
                log.info("camera %s: new run %s, tracker state reset", msg.camera, msg.run)
            st = self.cameras[msg.camera] = self._new_state(msg)
            st.version = version  # a fresh state still commits over the stored one
        if msg.seq < st.next_seq:
            # a duplicate (redelivery after a worker died) or a frame already given up on: its seq went
            # downstream once already (as the frame or as a reorder_timeout drop), so it is accounted for
            st.late += 1
            log.debug(
                "camera %s: seq %d is late or a duplicate (expecting %d)",
                msg.camera,
                msg.seq,
                st.next_seq,
            )
            return []
        return self._release(st, st.reorder.push(msg.seq, msg, self.clock()))

    def idle(self) -> list[Output]:
        """Called by the runtime between polls: releases frames whose predecessors never came."""
        if not self._all_loaded:
            self._load_all()
        out: list[Output] = []
        for camera, st in list(self.cameras.items()):
            try:
                released = self._release(st, st.reorder.poll(self.clock()))
                if released and self.store is not None:
                    if self.store.commit(camera, st, released, self.clock()) == CONFLICT:
                        log.info("camera %s moved on meanwhile: its release is not ours", camera)
                        self._forget(camera)
                    continue
            except BaseException:
                self._forget(camera)
                raise
            out += released
        return out

    # --------------------------------------------------------------------------------
    def _camera(self, camera: str) -> tuple[CameraState | None, int]:
        """This process's state of ``camera``, else the one committed in Redis (a restart), and
        the version a new state of the camera must commit over."""
        st = self.cameras.get(camera)
        if st is not None or self.store is None:
            return st, 0 if st is None else st.version
        st, version = self.store.load(camera, lambda data: self._restore(camera, data))
        if st is not None:
            self.cameras[camera] = st
        return st, version

    def _load_all(self) -> None:
        assert self.store is not None
        pattern = keys.per_camera_pattern("track")
        for key in self.store.redis.scan_iter(match=pattern, count=1000):
            self._camera(keys.camera_in(key.decode() if isinstance(key, bytes) else key))
        self._all_loaded = True

    def _restore(self, camera: str, data: dict) -> CameraState:
        t = self.track

        def tracker(state: dict) -> Tracker:
            if t.kind == "iou":
                return restore_iou_tracker(state, camera, t.iou_min, t.max_lost_s)
            return restore_face_tracker(state, camera, TrackerParams.from_section(t))

        shots = ShotParams.from_section(self.embed)
        return restore_camera(
            data, tracker, lambda s: restore_shots(s, shots), self.cut_threshold, self.clock()
        )

    def _new_state(self, msg: FrameMsg) -> CameraState:
        t = self.track
        if t.kind == "iou":
            tracker: Tracker = IouTracker(msg.camera, iou_min=t.iou_min, max_lost_s=t.max_lost_s)
        else:
            tracker = FaceTracker(msg.camera, TrackerParams.from_section(t))
        return CameraState(
            run=msg.run,
            tracker=tracker,
            # a live frame is not worth a long wait; a file frame of a killed worker is reclaimed and comes
            reorder=ReorderBuffer(
                t.reorder_wait_s if msg.max_age_s is not None else t.reorder_wait_file_s
            ),
            cuts=CutDetector(self.cut_threshold),
            shots=ShotPicker(ShotParams.from_section(self.embed)),
        )

    def _release(self, st: CameraState, released: list) -> list[Output]:
        out: list[Output] = []
        for seq, msg in released:
            tracked = keys.in_shard_of(keys.TRACKED, msg.camera)
            if seq - st.next_seq > MAX_GAP_FILL:
                # not a few lost frames but a tracker restarted mid-run without a readable stored
                # state (those frames were done before it) or a bogus seq: one drop message per
                # missing seq would flood every stream behind us
                log.warning(
                    "camera %s: jump from seq %d to %d: not filled with drops",
                    msg.camera,
                    st.next_seq,
                    seq,
                )
                st.next_seq = seq
            for missing in range(st.next_seq, seq):  # skipped by the reorder buffer's timeout
                never_came = FrameMsg(replace(msg.meta, seq=missing))
                out.append((tracked, never_came.drop("reorder_timeout")))
            st.next_seq = seq + 1
            out.append((tracked, self._track(st, msg)))
        return out

    def _track(self, st: CameraState, msg: FrameMsg) -> FrameMsg:
        if msg.is_eos:
            return msg.tracked(msg.faces, ended=tuple(st.tracker.reset()))
        if msg.dropped:
            return msg
        cut_ended = st.tracker.reset() if st.cuts.is_cut(msg.scene) else []
        if cut_ended:
            log.info(
                "camera %s frame %d: shot cut, %d track(s) ended",
                msg.camera,
                msg.seq,
                len(cut_ended),
            )
            st.shots.forget(cut_ended)
            st.carrier.clear()
        if not msg.detector_ran:  # detect_every_n: the tracks of the last detected frame, moved on
            carried, carried_ids = st.carrier.carry(msg.ts)
            return msg.tracked(carried.tracked(carried_ids), ended=tuple(cut_ended))
        update = st.tracker.update(msg.faces, msg.ts)
        st.shots.forget(update.ended)
        keep = [i for i, tid in enumerate(update.track_ids) if tid is not None]
        track_ids: list[str] = [tid for tid in update.track_ids if tid is not None]
        faces = msg.faces[keep].tracked(track_ids)
        st.carrier.observe(track_ids, faces, msg.ts)
        quality = face_quality(faces, faces.sharpness)
        limit = self.embed.max_per_live_frame if msg.max_age_s is not None else 0
        shot_of = {row: j for j, row in enumerate(msg.shots.rows)}  # face row -> its chip
        chosen = [c for c in st.shots.pick(track_ids, quality, msg.ts, limit) if keep[c] in shot_of]
        shots = msg.shots.take([shot_of[keep[c]] for c in chosen], chosen)
        return msg.tracked(faces, shots, tuple(cut_ended) + tuple(update.ended))
