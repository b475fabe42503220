"""The frame grabber: one source -> JPEG frames on ``fs:frames:{camera}``.

Files are lossless: the grabber waits while ``max_in_flight_frames`` frames are
unfinished (published but not yet done by the matcher), which bounds every
stream behind it. At the end of a file it publishes an ``eos`` message whose
``seq`` is the number of frames, and records the total so that a run knows
when every frame is accounted for.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass

import cv2
import redis

from config.settings import Settings
from ingest.sources import open_source, redact
from workers import keys
from workers.bus import Bus
from workers.messages import FrameMsg

log = logging.getLogger(__name__)


@dataclass
class GrabStats:
    camera: str
    run: str
    published: int = 0
    total: int | None = None  # known once a file has ended


class Grabber:
    def __init__(self, client: redis.Redis, bus: Bus, camera: str, url: str, settings: Settings,
                 stop: threading.Event | None = None):
        self.redis = client
        self.bus = bus
        self.camera = camera
        self.url = url
        self.settings = settings
        self.stop = stop or threading.Event()
        self.stats = GrabStats(camera, run=f"{int(time.time())}-{secrets.token_hex(4)}")

    def run(self) -> GrabStats:
        source = open_source(self.url)
        run, progress = self.stats.run, keys.progress(self.camera, self.stats.run)
        stream = keys.frames(self.camera)
        # the frames stream only ever holds the in-flight window (files) or a short live buffer
        maxlen = max(10 * self.settings.max_in_flight_frames, 500)
        self.redis.sadd(keys.CAMERAS, self.camera)
        self.redis.hset(keys.camera_info(self.camera), mapping={
            "run": run, "source": redact(self.url), "fps": source.fps, "width": source.width,
            "height": source.height, "expected_frames": source.frame_count, "state": "streaming",
            "started": time.time(),
        })
        self.redis.hdel(keys.camera_info(self.camera), "total")
        log.info("camera %s: %s, %dx%d at %.2f fps, run %s", self.camera, redact(self.url), source.width,
                 source.height, source.fps, run)
        started = time.time()
        seq = 0
        try:
            while not self.stop.is_set():
                frame = source.read()
                if frame is None:
                    break
                if not source.live:
                    self._wait_for_room(progress, seq)
                ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.settings.jpeg_quality])
                now = time.time()
                msg = FrameMsg(
                    camera=self.camera, run=run, seq=seq, capture_time=now,
                    ts=now if source.live else seq / source.fps,
                    width=frame.shape[1], height=frame.shape[0],
                    jpeg=buf.tobytes() if ok else None, dropped=None if ok else "encode_error",
                )
                self.bus.publish(stream, msg.to_bytes(), maxlen=maxlen)
                self.redis.hincrby(progress, "published", 1)
                seq += 1
                self.stats.published = seq
        finally:
            source.close()
        # end of stream: the total lets `run` know when every frame is accounted for
        eos = FrameMsg(camera=self.camera, run=run, seq=seq, ts=seq / source.fps if not source.live else time.time(),
                       capture_time=time.time(), width=source.width, height=source.height, kind="eos")
        self.bus.publish(stream, eos.to_bytes(), maxlen=maxlen)
        self.redis.hset(keys.camera_info(self.camera), mapping={"total": seq, "state": "ended"})
        self.redis.hset(progress, "total", seq)
        self.stats.total = seq
        log.info("camera %s: %d frames published in %.1f s", self.camera, seq, time.time() - started)
        return self.stats

    def _wait_for_room(self, progress: str, published: int) -> None:
        while not self.stop.is_set():
            done = int(self.redis.hget(progress, "done") or 0)
            if published - done < self.settings.max_in_flight_frames:
                return
            time.sleep(0.02)
