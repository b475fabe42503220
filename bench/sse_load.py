"""What SSE subscribers cost the pipeline: its throughput alone and with them, side by side.

``python -m bench.sse_load [--subscribers 100] [--rounds 2] [--clip examples/hamilton_360p.mp4]``
on a private embedded stack: the pipeline's real worker processes process the clip (file
mode, as ``bench.pipeline`` row (a)) with nobody listening, then with an API server process
and ``--subscribers`` clients on ``/v1/events`` in another process, alternating, so that both
see the same machine. Every subscriber must receive every record the run wrote. Printed: the
throughputs and their ratio, and the CPU seconds the server and the clients used. On one
machine the clients' CPU (which a deployment's users spend on their own machines) is taken
from the pipeline too, so the ratio is a lower bound; the server's CPU is what a deployment pays.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import procstat
from bench.pipeline import run_facestream
from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.services import Services
from facestream.stack import EmbeddedStack, Endpoints
from workers import keys

ROOT = Path(__file__).resolve().parents[1]
DRAIN_S = 120.0  # how long the subscribers get to receive the last records after the run


def serve_main(redis_url: str, milvus_uri: str) -> int:
    """The API server's process: prints its URL, serves until stdin closes."""
    from tests.support.api_server import api_server

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), redis_url=redis_url, milvus_uri=milvus_uri)
        with api_server(settings, Endpoints(redis_url, milvus_uri)) as url:
            print(url, flush=True)
            sys.stdin.read()
    return 0


def listen_main(url: str, key: str, n: int) -> int:
    """The subscribers' process: prints ``ready`` once all are connected; then, given how many
    records were written, waits for them and prints how many each subscriber got."""
    from tests.support.sse import SseClient

    headers = {"Authorization": f"Bearer {key}"}
    clients = [SseClient(f"{url}/v1/events", headers).start() for _ in range(n)]
    print("ready", flush=True)
    written = int(sys.stdin.readline())
    deadline = time.monotonic() + DRAIN_S
    while any(len(c.events) < written for c in clients) and time.monotonic() < deadline:
        time.sleep(0.1)
    print(json.dumps([len(c.events) for c in clients]), flush=True)
    for c in clients:
        c.stop(wait=False)
    return 0


def _child(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bench.sse_load", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def _line(proc: subprocess.Popen) -> str:
    assert proc.stdout is not None
    return proc.stdout.readline().strip()


def _records_written(client) -> int:
    if not client.exists(keys.RESULTS):
        return 0
    return int(client.xinfo_stream(keys.RESULTS)["entries-added"])


def one_run(
    services: Services, settings: Settings, clip: Path, logs: Path, key: str, n: int, camera: str
) -> dict:
    """One run of ``camera`` (a camera of its own per run: nothing of an earlier run is in its
    way), with ``n`` subscribers (0: no API server either)."""
    server = listeners = None
    cpu0: dict[str, float] = {}
    if n:
        endpoints = services.endpoints
        server = _child("--serve", endpoints.redis_url, endpoints.milvus_uri)
        url = _line(server)
        listeners = _child("--listen", url, key, str(n))
        if _line(listeners) != "ready":
            raise RuntimeError("the subscribers' process did not start")
        cpu0 = {"server": procstat.cpu_seconds(server.pid)}
        cpu0["clients"] = procstat.cpu_seconds(listeners.pid)
    before = _records_written(services.redis)
    out: dict = {"subscribers": n}
    try:
        out["fps"] = run_facestream(services, settings, clip, camera, logs)["fps"]
        out["written"] = _records_written(services.redis) - before
        if server is not None and listeners is not None:
            out["server_cpu_s"] = procstat.cpu_seconds(server.pid) - cpu0["server"]
            out["clients_cpu_s"] = procstat.cpu_seconds(listeners.pid) - cpu0["clients"]
            assert listeners.stdin is not None
            listeners.stdin.write(f"{out['written']}\n")
            listeners.stdin.flush()
            out["got"] = json.loads(_line(listeners) or "[]")
    finally:
        for proc in (listeners, server):
            if proc is not None:
                assert proc.stdin is not None
                proc.stdin.close()
                proc.wait(60)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sse_load", description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--clip", type=Path, default=ROOT / "examples" / "hamilton_360p.mp4")
    p.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    p.add_argument("--listen", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.serve:
        return serve_main(*args.serve)
    if args.listen:
        url, key, n = args.listen
        return listen_main(url, key, int(n))
    logging.basicConfig(level="WARNING")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(data_dir=Path(tmp), embedder="dlib")
        with EmbeddedStack(base) as endpoints:
            settings = Settings(data_dir=Path(tmp), redis_url=endpoints.redis_url,
                                milvus_uri=endpoints.milvus_uri, embedder="dlib")  # fmt: skip
            services = Services(settings, endpoints)
            _, key = ApiKeys(services.redis).create("admin")
            for r in range(args.rounds):
                for n in (0, args.subscribers):  # alternating: both see the same machine
                    camera, logs = f"sse-{r}-{n}", Path(tmp) / "logs"
                    row = one_run(services, settings, args.clip, logs, key, n, camera)
                    rows.append(row)
                    text = f"round {r + 1}, {n:>3} subscribers: {row['fps']:6.2f} frames/s, "
                    text += f"{row['written']} records"
                    if n:
                        full = sum(g >= row["written"] for g in row["got"])
                        text += (
                            f"; {full}/{n} subscribers got all; CPU s: server "
                            f"{row['server_cpu_s']:.1f}, clients {row['clients_cpu_s']:.1f}"
                        )
                    print(text, flush=True)
    alone = [r["fps"] for r in rows if not r["subscribers"]]
    loaded = [r for r in rows if r["subscribers"]]
    mean = sum(alone) / len(alone)
    mean_loaded = sum(r["fps"] for r in loaded) / len(loaded)
    print(
        f"pipeline throughput: alone {mean:.2f} frames/s, with {args.subscribers} SSE subscribers "
        f"{mean_loaded:.2f} frames/s: ratio {mean_loaded / mean:.3f} (mean of {args.rounds} rounds)"
    )
    complete = all(min(r["got"], default=0) >= r["written"] for r in loaded)
    return 0 if complete else 1


if __name__ == "__main__":
    raise SystemExit(main())
