"""Detect throughput with 1 and 2 detector processes on the crowd clip (does a second detector process double the rate?).

    PYTHONPATH=. python bench/detect_scale.py [--clip ../shared/media/crowd_1080p.mp4] [--runs "1x1,2x1,1x2"]

Each run: a fresh embedded stack, the clip's frames published by the real grabber,
then N `facestream worker detect` processes (T torch threads each) started together;
frames/s = frames / (time from the first to the last detected frame), measured on the
fs:detected entry ids (Redis server time), so process start-up and model loading are
not counted. Prints one line per run and the ratios to the first.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

from config.settings import Settings
from facestream.stack import EmbeddedStack
from ingest.grabber import Grabber
from workers import keys
from workers.bus import RedisStreamBus


def one_run(clip: Path, procs: int, threads: int, every_n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), redis_url=None, milvus_uri=None, max_in_flight_frames=100_000
        )
        with EmbeddedStack(settings) as ep:
            client = redis.Redis.from_url(ep.redis_url)
            # the grabber re-sends its end of stream until the run is finished, which needs a matcher:
            # stop it once the end is out
            stop = threading.Event()
            grab = threading.Thread(
                target=Grabber(
                    client, RedisStreamBus(client), "crowd", str(clip), settings, stop=stop
                ).run
            )
            grab.start()
            while grab.is_alive() and not client.hexists(keys.camera_info("crowd"), "total"):
                time.sleep(0.2)
            stop.set()
            grab.join()
            total = client.xlen(keys.frames("crowd"))  # frames + end-of-stream
            env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
            env.update(
                FACESTREAM_TORCH_THREADS=str(threads),
                FACESTREAM_BUS_READ_COUNT="1",
                FACESTREAM_DETECT_EVERY_N=str(every_n),
                FACESTREAM_METRICS_PORT="-1",
                FACESTREAM_REDIS_URL=ep.redis_url,
                FACESTREAM_MILVUS_URI=ep.milvus_uri,
            )  # not on argv: ps shows it
            cmd = [sys.executable, "-m", "facestream", "--data-dir", tmp, "worker", "detect"]
            workers = [
                subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for _ in range(procs)
            ]
            try:
                while client.xlen(keys.DETECTED) < total:
                    time.sleep(0.5)
            finally:
                for w in workers:
                    w.terminate()
                for w in workers:
                    w.wait()
            ids = [int(e[0].split(b"-")[0]) for e in client.xrange(keys.DETECTED)]
            # the first frame of each worker comes after its model load: count from the n-th entry
            span = (ids[-1] - ids[procs - 1]) / 1000
            return (len(ids) - procs) / span


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "--clip",
        type=Path,
        default=Path(__file__).resolve().parents[2] / "shared/media/crowd_1080p.mp4",
    )
    p.add_argument("--runs", default="1x1,2x1,1x2", help="PROCESSESxTHREADS, comma separated")
    p.add_argument(
        "--every-n",
        type=int,
        default=1,
        help="detect_every_n for the workers (1: MTCNN on every frame, the pure detector load)",
    )
    args = p.parse_args()
    print(f"{args.clip.name}, {os.cpu_count()} CPUs, detect_every_n={args.every_n}")
    base = None
    for spec in args.runs.split(","):
        procs, threads = map(int, spec.split("x"))
        fps = one_run(args.clip, procs, threads, args.every_n)
        base = base or fps
        print(
            f"{procs} detector process(es) x {threads} torch thread(s): {fps:.2f} frames/s ({fps / base:.2f}x)",
            flush=True,
        )


if __name__ == "__main__":
    main()
