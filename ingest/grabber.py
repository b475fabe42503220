"""The frame grabber: one camera -> JPEG frames on ``fs:frames:{camera}``.

Files are lossless: the grabber waits while ``max_in_flight_frames`` frames are
unfinished (published but not yet done by the matcher), which bounds every
stream behind it. At the end of a file it publishes an ``eos`` message whose
``seq`` is the number of frames, records the total, and re-sends the ``eos``
until the run is finished (a Redis crash may lose the last second of writes).

Live sources have bounded latency: a :class:`LiveReader` keeps only the newest
frame, and the grabber skips frames (counted as ``skipped:backlog``) while
``live.max_in_flight_frames`` are unfinished; each published frame carries
``max_age_s``, so workers skip it once it is too old. If nothing finishes for
``max_age_s`` (frames lost with a crashed worker), one frame goes anyway.

Redis errors are retried with backoff, forever: a file frame is never skipped
because Redis was away, a live camera just keeps its newest frame meanwhile.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import cv2
import numpy as np
import redis

from config.cameras import CameraPolicy
from config.redact import redact_url
from config.settings import Settings
from ingest.events import StateReporter
from ingest.live import LiveReader
from ingest.sources import is_live, open_source
from workers import keys
from workers.backoff import REDIS_DOWN, Backoff
from workers.bus import Bus
from workers.messages import FrameMeta, FrameMsg
from workers.progress import RunProgress
from workers.replies import hash_fields
from workers.scene import CutDetector, scene_histogram

log = logging.getLogger(__name__)
T = TypeVar("T")
EOS_RESEND_S = 10.0


@dataclass
class GrabStats:
    camera: str
    run: str
    published: int = 0
    total: int | None = None  # known once a file has ended
    skipped: int = 0  # live: frames never published (downstream busy, or a newer one came first)
    redis_retries: int = 0


class Grabber:
    def __init__(
        self,
        client: redis.Redis,
        bus: Bus,
        camera: str,
        url: str,
        settings: Settings,
        stop: threading.Event | None = None,
        policy: CameraPolicy | None = None,
    ):
        self.redis = client
        self.bus = bus
        self.camera = camera
        self.url = url
        self.settings = settings
        self.stop = stop or threading.Event()
        self.policy = (policy or CameraPolicy()).resolved(settings.live)
        self.live = self.policy.live if self.policy.live is not None else is_live(url)
        self.stats = GrabStats(camera, run=f"{int(time.time())}-{secrets.token_hex(4)}")
        self.events = StateReporter(client, camera, self.stats.run)
        self.reader: LiveReader | None = None
        self.progress = RunProgress(client, camera, self.stats.run)
        self._stream = keys.frames(camera)
        self._cuts = CutDetector(settings.scene_cut_threshold)

    def run(self) -> GrabStats:
        self._until_ok(lambda: self.redis.sadd(keys.CAMERAS, self.camera))
        return self._run_live() if self.live else self._run_file()

    # --- files: lossless ---------------------------------------------------------------------
    def _run_file(self) -> GrabStats:
        self.events("connecting")
        source = open_source(
            self.url,
            open_timeout_s=self.policy.open_timeout_s,
            read_timeout_s=self.policy.stall_timeout_s,
            live=False,
        )
        self._register(source.fps, source.width, source.height, source.frame_count)
        self.events("streaming")
        maxlen = max(10 * self.settings.max_in_flight_frames, 500)
        started, seq = time.time(), 0
        try:
            while not self.stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                self._wait_for_room(seq)
                self._publish(
                    self._frame_msg(frame, seq, time.time(), seq / source.fps, None), maxlen
                )
                seq += 1
        finally:
            source.close()
        eos = FrameMsg.end_of_stream(
            FrameMeta(
                camera=self.camera,
                run=self.stats.run,
                seq=seq,
                ts=seq / source.fps,
                capture_time=time.time(),
                width=source.width,
                height=source.height,
            )
        )
        self._until_ok(lambda: self._end(eos, maxlen))
        self.stats.total = seq
        self.events("ended", frames=seq)
        log.info(
            "camera %s: %d frames published in %.1f s", self.camera, seq, time.time() - started
        )
        if not self.stop.is_set() and 0 < seq < source.frame_count:  # all that could be read is in
            log.warning(
                "camera %s: the container declares %d frames, only %d could be read "
                "(a truncated or damaged file?)",
                self.camera,
                source.frame_count,
                seq,
            )
        self._resend_eos_until_finished(eos, maxlen)
        return self.stats

    def _wait_for_room(self, published: int) -> None:
        while not self.stop.is_set():
            done = self._until_ok(self.progress.done)
            if published - done < self.settings.max_in_flight_frames:
                return
            time.sleep(0.02)

    def _end(self, eos: FrameMsg, maxlen: int) -> None:
        self.bus.publish(self._stream, eos.to_bytes(), maxlen=maxlen)
        self.redis.hset(keys.camera_info(self.camera), mapping={"total": eos.seq, "state": "ended"})
        self.progress.set_total(eos.seq)

    def _resend_eos_until_finished(self, eos: FrameMsg, maxlen: int) -> None:
        """A Redis crash can lose the eos with the last second of writes: send it again until the run ends."""
        next_send = time.monotonic() + EOS_RESEND_S
        while not self.stop.wait(0.2):
            if self._until_ok(self.progress.finished):
                return
            if time.monotonic() >= next_send:
                log.info(
                    "camera %s: run not finished yet: sending the end of stream again", self.camera
                )
                self._until_ok(lambda: self._end(eos, maxlen))
                next_send = time.monotonic() + EOS_RESEND_S

    # --- live: newest frames, bounded latency ----------------------------------------------------
    def _run_live(self) -> GrabStats:
        p = self.policy
        self._register(0.0, 0, 0, 0)
        reader = self.reader = LiveReader(self.url, p, self.events, self.stop).start()
        maxlen = max(20 * p.max_in_flight_frames, 100)
        seq, done_seen, done_changed, registered = 0, 0, time.monotonic(), False
        skipped_flushed, overwritten_flushed, next_flush = 0, 0, time.monotonic() + 1.0
        while not self.stop.is_set():
            item = reader.take(0.5)
            now = time.monotonic()
            if now >= next_flush:  # counters in batches: not one Redis round trip per skipped frame
                # one snapshot: the reader thread keeps counting while Redis is retried, and a
                # second read after the flush would drop what it counted in between
                skipped, overwritten = self.stats.skipped, reader.overwritten
                self._until_ok(
                    partial(
                        self._flush_skips,
                        skipped - skipped_flushed,
                        overwritten - overwritten_flushed,
                    )
                )
                skipped_flushed, overwritten_flushed, next_flush = skipped, overwritten, now + 1.0
            if item is None:
                continue
            if not registered and reader.info:
                self._until_ok(
                    partial(
                        self.redis.hset,
                        keys.camera_info(self.camera),
                        mapping=hash_fields(reader.info),
                    )
                )
                registered = True
            done = self._until_ok(self.progress.done)
            if done != done_seen:
                done_seen, done_changed = done, now
            if seq - done >= p.max_in_flight_frames:
                if now - done_changed < p.max_age_s:
                    self.stats.skipped += 1
                    continue
                done_changed = now  # nothing finished for max_age: send one anyway, so a lost frame can't block us
            self._publish(
                self._frame_msg(item.frame, seq, item.capture_time, item.capture_time, p.max_age_s),
                maxlen,
            )
            seq += 1
        reader.join(timeout=p.open_timeout_s + 2.0)  # an open in progress ends within its timeout
        eos = FrameMsg.end_of_stream(
            FrameMeta(
                camera=self.camera,
                run=self.stats.run,
                seq=seq,
                ts=time.time(),
                capture_time=time.time(),
                width=0,
                height=0,
            )
        )
        try:
            self._end(eos, maxlen)
        except REDIS_DOWN:
            log.warning("camera %s: Redis unreachable at stop: end of stream not sent", self.camera)
        self.stats.total = seq
        return self.stats

    def _flush_skips(self, skipped: int, overwritten: int) -> None:
        if skipped or overwritten:
            self.progress.count_skipped({"backlog": skipped, "overwritten": overwritten})

    # --- shared ----------------------------------------------------------------------------------
    def _register(self, fps: float, width: int, height: int, expected: int) -> None:
        info = {
            "run": self.stats.run,
            "source": redact_url(self.url),
            "live": int(self.live),
            "fps": fps,
            "width": width,
            "height": height,
            "expected_frames": expected,
            "started": time.time(),
        }
        log.info(
            "camera %s: %s (%s), run %s",
            self.camera,
            redact_url(self.url),
            "live" if self.live else "file",
            self.stats.run,
        )

        def write() -> None:
            pipe = self.redis.pipeline()
            pipe.hset(keys.camera_info(self.camera), mapping=hash_fields(info))
            pipe.hdel(keys.camera_info(self.camera), "total")
            pipe.execute()

        self._until_ok(write)

    def _frame_msg(
        self, frame: np.ndarray, seq: int, capture_time: float, ts: float, max_age_s: float | None
    ) -> FrameMsg:
        ok, buf = cv2.imencode(
            ".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality]
        )
        scene = scene_histogram(frame)
        meta = FrameMeta(
            camera=self.camera,
            run=self.stats.run,
            seq=seq,
            capture_time=capture_time,
            ts=ts,
            width=frame.shape[1],
            height=frame.shape[0],
            max_age_s=max_age_s,
            cut=self._cuts.is_cut(scene),
        )
        return (
            FrameMsg(meta, jpeg=buf.tobytes(), scene=scene)
            if ok
            else FrameMsg(meta).drop("encode_error")
        )

    def _publish(self, msg: FrameMsg, maxlen: int) -> None:
        payload = msg.to_bytes()

        def send() -> None:
            self.bus.publish(self._stream, payload, maxlen=maxlen)
            self.progress.count_published()

        self._until_ok(send)
        self.stats.published = msg.seq + 1

    def _until_ok(self, call: Callable[[], T]) -> T:
        """Run a Redis call, retrying with capped backoff while Redis is unreachable (until stopped)."""
        backoff = Backoff(0.2, self.settings.bus.redis_retry_max_s)
        while True:
            try:
                return call()
            except REDIS_DOWN as exc:
                if self.stop.is_set():
                    raise
                delay = backoff.next_delay()
                self.stats.redis_retries += 1
                log.warning(
                    "camera %s: Redis unreachable (%s); retrying in %.1f s", self.camera, exc, delay
                )
                self.stop.wait(delay)
