"""The bus ceiling benchmark moves the pipeline's real messages through a real Valkey."""

from __future__ import annotations

from pathlib import Path

import redis

from bench import bus_ceiling
from bench.private_redis import private_redis
from workers.messages import FrameMsg


def test_payloads_are_the_pipelines_messages_of_a_1080p_frame(shared_dir: Path) -> None:
    data = bus_ceiling.payloads(bus_ceiling._frame(shared_dir / "media" / "crowd_1080p.mp4"), 8)
    frame, detected = FrameMsg.from_bytes(data["frames"]), FrameMsg.from_bytes(data["detected"])
    assert frame.meta.width == 1920 and frame.jpeg and len(frame.jpeg) > 100_000
    assert detected.jpeg is None and len(detected.shots.chips) == 8
    embedded = FrameMsg.from_bytes(data["embedded"])
    assert embedded.shots.embeddings is not None and embedded.shots.embeddings.shape == (8, 512)
    assert not embedded.shots.chips


def test_every_hop_is_read_and_acked_and_the_aof_logs_the_frames(shared_dir: Path) -> None:
    data = bus_ceiling.payloads(bus_ceiling._frame(shared_dir / "media" / "crowd_1080p.mp4"), 4)
    with private_redis() as (url, server, data_dir):
        m = bus_ceiling.measure(url, server.pid, data_dir, 2, 10, 4, data)
        client = redis.Redis.from_url(url)
        for hop in bus_ceiling.HOPS:
            for cam in ("c2-0", "c2-1"):
                stream = f"fs:bench:{hop}:{cam}"
                assert client.xpending(stream, bus_ceiling.GROUP)["pending"] == 0
                assert client.xlen(stream) == 20  # warm-up round + timed round
        assert client.xlen("fs:bench:results:c2-0") == 20 * 4
    assert m["fps"] > 0 and m["server_ms_per_frame"] > 0
    assert m["aof_kib_per_frame"] * 1024 > len(data["frames"])  # every frame's JPEG is logged
