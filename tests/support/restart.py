"""The shared steps of the tests that SIGKILL part of a real file run and compare its records
with an undisturbed run's: `facestream run` on hamilton_360p, canonical records, the checks."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import redis

from tests.support.faults import busy_worker
from tests.support.rtsp import wait_for
from workers import keys

CAMERA, FRAMES = "hamilton_360p", 275
SETTINGS = {"bus_claim_idle_ms": 3000, "worker_restart_max_s": 2}


def start_run(data_dir: Path, endpoints, video: Path, out: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    env.update({f"FACESTREAM_{k.upper()}": str(v) for k, v in SETTINGS.items()})
    cmd = [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), "--redis-url"]
    cmd += [endpoints.redis_url, "--milvus-uri", endpoints.milvus_uri, "run", str(video)]
    return subprocess.Popen(
        [*cmd, "--out", str(out)], env=env, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True
    )


def fresh_run(
    client: redis.Redis, data_dir: Path, endpoints, video: Path, out: Path, log: Path
) -> subprocess.Popen:
    """A run whose progress is its own: the previous run's id must not count as this one's."""
    client.delete(keys.camera_info(CAMERA))
    return start_run(data_dir, endpoints, video, out, log)


def undisturbed(client: redis.Redis, data_dir: Path, endpoints, video: Path, tmp: Path) -> Path:
    """The records of a run that nothing disturbs (the reference)."""
    calm, calm_log = tmp / "calm.jsonl", tmp / "calm.err"
    code = fresh_run(client, data_dir, endpoints, video, calm, calm_log).wait(900)
    assert code == 0, calm_log.read_text()[-3000:]
    return calm


def ended_well(code: int, log: Path, restarts: int = 3) -> str:
    """The run's stderr, once checked: exit 0, every frame accounted for, the restarts said."""
    err = log.read_text()
    assert code == 0, err[-3000:]
    assert f"{FRAMES}/{FRAMES} frames accounted for" in err
    assert err.count("restarting it in") >= restarts, err[-2000:]
    return err


def same_records(calm: Path, out: Path, what: str = "killed 3 times") -> list[dict]:
    """``out``'s records, once checked to be the undisturbed run's with sound lifecycles."""
    want, got = canonical(calm), canonical(out)
    differing = len(set(want) ^ set(got))
    print(f"\nrecords: undisturbed {len(want)}, {what} {len(got)}, differing {differing}")
    assert got == want
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert lifecycle_ok(rows) == []
    return rows


def canonical(out: Path) -> list[tuple]:
    """The run's records, with what differs between any two runs made equal: the tracker's
    per-run token in track ids, random unknown labels (numbered by first appearance), wall time,
    the run id."""
    labels: dict[str, str] = {}
    rows = []
    for line in out.read_text().splitlines():
        r = json.loads(line)
        r.pop("capture_time", None)
        r.pop("run", None)
        for field in ("track_id", "into"):
            if field in r:
                r[field] = re.sub(r"-[0-9a-f]{6}-", "-T-", r[field])
        if (r.get("label") or "").startswith("unknown-"):
            r["label"] = labels.setdefault(r["label"], f"unknown-{len(labels)}")
        rows.append(tuple(sorted((k, json.dumps(v)) for k, v in r.items())))
    return rows


def lifecycle_ok(rows: list[dict]) -> list[str]:
    """Problems with start/end events: a second start, a start after an end, a track never ended."""
    problems, started, ended = [], set(), set()
    for r in rows:
        track, event = r["track_id"], r.get("event")
        if event == "start":
            if track in started:
                problems.append(f"second start of {track} at frame {r['frame']}")
            started.add(track)
        elif event == "end":
            if track in ended:
                problems.append(f"second end of {track} at frame {r['frame']}")
            ended.add(track)
    problems += [f"{t} never ended" for t in started - ended]
    return problems


def kill_busy(
    client: redis.Redis, kind: str, stream: str, at: tuple[int, ...], progress: Callable[[], int]
) -> None:
    """SIGKILL a worker of ``kind`` in the middle of a batch of ``stream`` each time
    ``progress`` (frames) reaches one of ``at``; the supervisor restarts it meanwhile."""
    for frames in at:
        assert wait_for(lambda frames=frames: progress() >= frames, 600), (
            f"progress stuck at {progress()}"
        )
        pid = wait_for(lambda: busy_worker(client, kind, stream, kind), 120, 0.02)
        assert pid, f"no busy {kind} worker to kill at {progress()} frames"
        os.kill(pid, signal.SIGKILL)
        print(f"\n{kind} worker pid {pid} SIGKILLed at {progress()} frames")
