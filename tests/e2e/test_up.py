"""`facestream up --detectors 2 --embedders 1` runs two file cameras and one live camera
at once; `status` shows every figure; a detector killed with SIGKILL shows in status and
supervisor restarts it; `scale` changes a count; `down` stops everything."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.live_tcp import LiveTcpSource

pytestmark = pytest.mark.slow


def _fs(data_dir: Path, *args: str, timeout: float = 400) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    # detect every 4th frame: three cameras on two detector processes must fit this 2-core machine
    env["FACESTREAM_DETECT_EVERY_N"] = "4"
    done = subprocess.run(
        [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def _status(data_dir: Path) -> dict:
    return json.loads(_fs(data_dir, "status", "--json").stdout)


def _until(what: str, check, timeout_s: float, data_dir: Path) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        s = _status(data_dir)
        if check(s):
            return s
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}: {json.dumps(s)[-3000:]}")
        time.sleep(2)


def _short_clip(src: Path, dst: Path, frames: int) -> Path:
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    ok, frame = cap.read()
    out = cv2.VideoWriter(
        str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0])
    )
    for _ in range(frames):
        out.write(frame)
        ok, frame = cap.read()
    out.release()
    cap.release()
    return dst


def test_up_two_files_and_a_live_camera_status_kill_restart_scale_down(
    examples_dir, tmp_path
) -> None:
    data_dir = tmp_path / "stack"
    clip = examples_dir / "hamilton_360p.mp4"
    short = _short_clip(clip, tmp_path / "first60.mp4", 60)  # 2 cores: keep the files short
    with LiveTcpSource(clip, width=320, fps=2) as live:
        try:
            _fs(data_dir, "up", "--detectors", "2", "--embedders", "1")
            for name, url in (("file1", str(short)), ("file2", str(short)), ("live", live.url)):
                _fs(data_dir, "cameras", "add", name, url)
            cams = lambda s: {c["camera"]: c for c in s["cameras"]}  # noqa: E731
            s = _until(
                "both files accounted for and the live camera processed",
                lambda s: (
                    all(
                        cams(s).get(n, {}).get("total")
                        and cams(s)[n]["done"] >= cams(s)[n]["total"]
                        for n in ("file1", "file2")
                    )
                    and cams(s).get("live", {}).get("done", 0) > 0
                ),
                400,
                data_dir,
            )
            assert cams(s)["file1"]["total"] == cams(s)["file2"]["total"] == 60
            assert cams(s)["live"]["state"] == "streaming"
            # every figure the issue names is in the snapshot
            assert {"fs:frames:file1", "fs:frames:live", "fs:detected", "fs:results"} <= {
                r["stream"] for r in s["streams"]
            }
            assert all({"lag", "pending", "consumer_list"} <= set(g) for g in s["groups"])
            assert {"fps", "stage_ms", "latency_ms", "processed"} <= set(s["stages"]["detect"])
            # workers write their counters with their health beat (every few seconds): wait for it
            s = _until(
                "the detectors' counters",
                lambda s: s["stages"]["detect"]["processed"] >= 2 * 60,
                30,
                data_dir,
            )
            assert {"stale_drops", "dead_letters", "drops", "metrics_endpoints"} <= set(s)
            assert (
                len(s["metrics_endpoints"]) >= 6
            )  # 2 detectors, embed, track, match, the grabbers
            detectors = [p for p in s["processes"] if p["group"] == "detect"]
            assert len(detectors) == 2 and all(p["state"] == "RUNNING" for p in detectors)
            # SIGKILL one detector: status shows it dead, supervisor starts a new one
            victim = detectors[0]
            os.kill(victim["pid"], signal.SIGKILL)
            s = _until(
                "a dead detector in status",
                lambda s: (
                    any(w["pid"] == victim["pid"] and w["state"] == "dead" for w in s["workers"])
                    or any(
                        p["name"] == victim["name"] and p["pid"] != victim["pid"]
                        for p in s["processes"]
                    )
                ),
                60,
                data_dir,
            )
            s = _until(
                "the detector restarted",
                lambda s: (
                    any(
                        p["name"] == victim["name"]
                        and p["pid"] != victim["pid"]
                        and p["state"] == "RUNNING"
                        for p in s["processes"]
                    )
                    and sum(w["kind"] == "detect" and w["state"] == "alive" for w in s["workers"])
                    == 2
                ),
                120,
                data_dir,
            )
            _fs(data_dir, "scale", "detector=1")
            s = _status(data_dir)
            assert len([p for p in s["processes"] if p["group"] == "detect"]) == 1
            _fs(data_dir, "cameras", "rm", "live")
            _until(
                "the live camera removed",
                lambda s: cams(s)["live"]["state"] == "removed",
                60,
                data_dir,
            )
            table = _fs(data_dir, "status").stdout
            for title in (
                "Streams",
                "Consumer groups",
                "Stages",
                "Workers",
                "Cameras",
                "Supervised processes",
            ):
                assert title in table
        finally:
            down = subprocess.run(
                [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), "down"],
                capture_output=True,
                text=True,
                timeout=180,
            )
    assert down.returncode == 0, down.stderr
    assert "stopped embedded" in down.stdout
    # no frame or face crop ever lands on disk: frames and crops travel only through Redis
    images = [
        p
        for p in data_dir.rglob("*")
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp", ".npy")
    ]
    assert images == []
    assert (data_dir / "logs" / "detect-0.log").exists() and (
        data_dir / "logs" / "supervisord.log"
    ).exists()
