"""Soak benchmark: a live RTSP camera through `facestream run` for a while; resources must stay flat.

    PYTHONPATH=. .venv/bin/python -m bench.soak_live --minutes 10

Starts a private embedded stack, enrolls ../shared/faces/gallery, serves
../shared/media/hamilton_360p.mp4 live and looped from the real GStreamer RTSP
server (tests/support/rtsp_server.py, system Python), runs `facestream run` on it
and samples every ``--every-s`` seconds: RSS, open files and threads of the run
process and of every worker process, pending entries over all consumer groups,
and the length of every stream. Prints the samples and, per metric, the
least-squares slope per minute after the warm-up (first ``--warmup-s``), and the
first-vs-last difference. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import redis

from config.settings import Settings
from facestream.stack import EmbeddedStack
from tests.support.rtsp import RtspServer
from workers import keys

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _proc_stats(pid: int) -> tuple[float, int, int]:
    """(RSS MiB, open fds, threads) of one process; zeros when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields["VmRSS"].split()[0]) / 1024
        return rss, len(os.listdir(f"/proc/{pid}/fd")), int(fields["Threads"])
    except (OSError, KeyError, ValueError):
        return 0.0, 0, 0


def _sample(client: redis.Redis, run_pid: int) -> dict[str, float]:
    pids = {"run": run_pid}
    for key in client.scan_iter(match="fs:health:*"):
        raw = client.get(key)
        if raw:
            info = json.loads(raw)
            pids[info["kind"]] = info["pid"]
    out: dict[str, float] = {}
    for name, pid in sorted(pids.items()):
        rss, fds, threads = _proc_stats(pid)
        out[f"{name}.rss_mib"], out[f"{name}.fds"], out[f"{name}.threads"] = rss, fds, threads
    pending, lengths = 0, 0
    for key in client.scan_iter(match="fs:*", _type="stream"):
        if key != b"fs:results" and key != b"fs:events":
            lengths += client.xlen(key)
        pending += sum(int(g["pending"]) for g in client.xinfo_groups(key))
    out["pending"], out["stream_entries"] = pending, lengths
    out["redis_used_mib"] = client.info("memory")["used_memory"] / 2**20
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--every-s", type=float, default=15.0)
    p.add_argument("--warmup-s", type=float, default=60.0)
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fs-soak-"))
    fs = [sys.executable, "-m", "facestream", "--data-dir", str(work)]
    try:
        with (
            EmbeddedStack(Settings(data_dir=work, redis_url=None, milvus_uri=None)) as ep,
            RtspServer(
                SHARED / "media" / "hamilton_360p.mp4", log_path=work / "rtsp.log"
            ) as server,
        ):
            fs += ["--redis-url", ep.redis_url, "--milvus-uri", ep.milvus_uri]
            subprocess.run(
                [*fs, "enroll", "--dir", str(SHARED / "faces" / "gallery")],
                check=True,
                capture_output=True,
            )
            client = redis.Redis.from_url(ep.redis_url)
            run = subprocess.Popen(
                [*fs, "run", server.url, "--camera", "soak"],
                stdout=subprocess.DEVNULL,
                stderr=open(work / "run.err", "w"),
            )
            started, samples = time.time(), []
            print(
                f"soak: {args.minutes:g} min, a sample every {args.every_s:g} s (data in {work})",
                flush=True,
            )
            while time.time() - started < args.minutes * 60:
                time.sleep(args.every_s)
                s = {"t_s": time.time() - started, **_sample(client, run.pid)}
                samples.append(s)
                print(
                    " ".join(
                        f"{k}={v:.1f}"
                        for k, v in s.items()
                        if not k.endswith("fds") or k == "run.fds"
                    ),
                    flush=True,
                )
            results = client.xlen("fs:results")
            progress = {
                k.decode(): v.decode()
                for key in client.scan_iter(match=keys.progress("soak", "*"))
                for k, v in client.hgetall(key).items()
            }
            run.send_signal(signal.SIGTERM)
            run.wait(120)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    steady = [s for s in samples if s["t_s"] >= args.warmup_s] or samples
    print(f"\n{results} result records; progress {progress}")
    print(
        f"{'metric':<22}{'first':>10}{'last':>10}{'slope/min':>12}   (after {args.warmup_s:.0f} s warm-up)"
    )
    t = np.array([s["t_s"] for s in steady]) / 60
    for key in sorted(k for k in steady[0] if k != "t_s"):
        y = np.array([s.get(key, 0.0) for s in steady])
        slope = float(np.polyfit(t, y, 1)[0]) if len(t) > 1 else 0.0
        print(f"{key:<22}{y[0]:>10.1f}{y[-1]:>10.1f}{slope:>12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
