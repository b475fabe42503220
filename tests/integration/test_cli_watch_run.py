"""CLI commands that need servers but no models: `watch`, and `run`'s early errors."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from workers import codec, keys
from workers.bus import RedisStreamBus


def _cli(stack, tmp_path, *args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(tmp_path),
        "--redis-url",
        stack.redis_url,
        "--milvus-uri",
        stack.milvus_uri,
        *args,
    ]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}


def test_watch_prints_named_records_and_events_as_they_arrive(
    stack, redis_client, tmp_path
) -> None:
    proc = subprocess.Popen(
        _cli(stack, tmp_path, "watch"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        # watch starts at "$": wait until it is listening before publishing
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
            c.get("cmd") == "xread" or "xread" in str(c) for c in redis_client.client_list()
        ):
            time.sleep(0.2)
        bus = RedisStreamBus(redis_client)
        base = {
            "camera": "door",
            "frame": 7,
            "ts": 0.25,
            "track_id": "door-abc-1",
            "score": 0.95,
            "bbox": [1, 2, 30, 40],
        }
        bus.publish(
            keys.RESULTS, codec.encode({**base, "name": None})
        )  # unnamed: not shown without --all
        bus.publish(keys.RESULTS, codec.encode({**base, "event": "identified", "name": "ada"}))
        bus.publish(keys.RESULTS, codec.encode({**base, "name": "ada"}))
        lines: list[str] = []
        deadline = time.monotonic() + 30
        while len(lines) < 2 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                lines.append(line.strip())
    finally:
        proc.terminate()
        proc.wait(10)
    assert len(lines) == 2, lines
    assert "identified" in lines[0] and "ada" in lines[0] and "door-abc-1" in lines[0]
    assert "frame 7" in lines[1] and "ada" in lines[1] and "unknown" not in lines[1]


def test_run_of_a_missing_file_fails_fast_with_a_clear_message(stack, tmp_path) -> None:
    done = subprocess.run(
        _cli(stack, tmp_path, "run", str(tmp_path / "nope.mp4")),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert done.returncode == 2
    assert "nope.mp4" in done.stderr and "no such file" in done.stderr
    assert "Traceback" not in done.stderr


def test_run_with_a_camera_name_per_source_is_checked(stack, tmp_path, examples_dir) -> None:
    clip = str(examples_dir / "hamilton_360p.mp4")
    done = subprocess.run(
        _cli(stack, tmp_path, "run", clip, clip, "--camera", "a"),
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert done.returncode == 2
    assert "--camera" in done.stderr and "expected one name per source (2), got 1" in done.stderr
