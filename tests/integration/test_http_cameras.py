"""Live HTTP cameras through the real grabber into a real Redis: an MJPEG stream (an IP camera's
multipart/x-mixed-replace) that goes away and comes back, and an HLS playlist (MPEG-TS segments
cut by GStreamer) that ends and is read again. RTSP has its own end-to-end test (tests/e2e/test_live.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import msgpack
import pytest

from config.cameras import CameraPolicy
from ingest.grabber import Grabber
from tests.support.http_video import HlsServer, MjpegServer, hls_available
from tests.support.rtsp import wait_for
from workers import keys
from workers.bus import FIELD, RedisStreamBus
from workers.messages import FrameMsg
from workers.models.chips import decode_jpeg

# no downstream workers here: without a cap on frames in flight the grabber publishes every frame it takes
POLICY = CameraPolicy(
    open_timeout_s=5,
    stall_timeout_s=2,
    reconnect_initial_s=0.3,
    reconnect_max_s=1.0,
    max_in_flight_frames=100_000,
)


def _states(client, camera: str, since: float = 0.0) -> list[str]:
    rows = [msgpack.unpackb(f[b"m"]) for _, f in client.xrange(keys.EVENTS)]
    return [e["state"] for e in rows if e["camera"] == camera and e["time"] >= since]


def _published(client, grabber: Grabber) -> int:
    return grabber.progress.read().published


class Running:
    """A grabber in its own thread, stopped (warm) on exit."""

    def __init__(self, client, camera: str, url: str, settings):
        self.stop = threading.Event()
        self.grabber = Grabber(
            client, RedisStreamBus(client), camera, url, settings, stop=self.stop, policy=POLICY
        )
        self.thread = threading.Thread(target=self.grabber.run, daemon=True)

    def __enter__(self) -> Grabber:
        self.thread.start()
        return self.grabber

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(15)
        assert not self.thread.is_alive(), "the grabber did not stop"


def _frames(client, camera: str) -> list[FrameMsg]:
    msgs = [FrameMsg.from_bytes(f[FIELD]) for _, f in client.xrange(keys.frames(camera))]
    return [m for m in msgs if not m.is_eos]


def test_mjpeg_camera_streams_goes_away_and_is_read_again(
    settings, redis_client, examples_dir: Path
) -> None:
    with MjpegServer(examples_dir / "hamilton_360p.mp4", fps=15) as camera:
        with Running(redis_client, "gate", camera.url, settings) as grabber:
            assert grabber.live  # an http URL that is not a video file
            assert wait_for(lambda: _published(redis_client, grabber) >= 20, 30), _states(
                redis_client, "gate"
            )
            camera.kill()
            time.sleep(4)
            before = _published(redis_client, grabber)
            camera.start()
            back = time.time()
            again = wait_for(lambda: "streaming" in _states(redis_client, "gate", since=back), 20)
            assert again, _states(redis_client, "gate")
            assert wait_for(lambda: _published(redis_client, grabber) >= before + 20, 20)
            print(f"\nMJPEG: streaming again {time.time() - back:.2f} s after the camera's return")
    states = _states(redis_client, "gate")
    assert states[:2] == ["connecting", "streaming"] and "reconnecting" in states, states
    assert camera.requests >= 2
    frames = _frames(redis_client, "gate")
    assert len(frames) >= 40 and [m.seq for m in frames] == list(range(len(frames)))
    assert decode_jpeg(frames[-1].jpeg).shape == (360, 640, 3)
    assert all(
        m.max_age_s is not None for m in frames
    )  # live frames: workers skip them once too old


@pytest.mark.needs(
    hls_available(), reason="GStreamer's hlssink2 (Debian packages; make system-deps)"
)
def test_hls_playlist_is_read_as_a_live_camera(
    settings, redis_client, examples_dir: Path, tmp_path: Path
) -> None:
    with HlsServer(examples_dir / "hamilton_360p.mp4", tmp_path / "hls") as camera:
        with Running(redis_client, "lobby", camera.url, settings) as grabber:
            assert grabber.live  # .m3u8
            assert wait_for(lambda: _published(redis_client, grabber) >= 20, 30), _states(
                redis_client, "lobby"
            )
            # the playlist ends: the camera is read again from its playlist, like any live source that drops
            assert wait_for(lambda: _states(redis_client, "lobby").count("streaming") >= 2, 30), (
                _states(redis_client, "lobby")
            )
    info = redis_client.hgetall(keys.camera_info("lobby"))
    assert float(info[b"fps"]) == pytest.approx(29.97, abs=0.01)
    frames = _frames(redis_client, "lobby")
    assert decode_jpeg(frames[0].jpeg).shape == (360, 640, 3)
    assert camera.requests >= 4  # the playlist twice, and its segments
