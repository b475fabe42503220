"""The command line shared by the benchmarks of a stage's per-camera state kept in Redis."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import redis

from bench.private_redis import private_redis

Measure = Callable[[redis.Redis, int, int], dict]


def main(doc: str, measure: Measure) -> None:
    """Parse ``--tracks`` and ``--frames``, then print ``measure(client, tracks, frames)``'s row
    (tracks, state_bytes, with_state_ms, without_ms) for each number of live tracks."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--tracks", default="1,7,30")
    ap.add_argument("--frames", type=int, default=300)
    args = ap.parse_args()
    with private_redis() as (url, _, _):
        client = redis.Redis.from_url(url)
        print("tracks  state KiB  commit with state ms  without ms  extra ms/frame")
        for n in (int(x) for x in args.tracks.split(",")):
            r = measure(client, n, args.frames)
            print(
                f"{r['tracks']:6d}  {r['state_bytes'] / 1024:9.1f}  "
                f"{r['with_state_ms']:20.3f}  {r['without_ms']:10.3f}  "
                f"{r['with_state_ms'] - r['without_ms']:14.3f}"
            )
