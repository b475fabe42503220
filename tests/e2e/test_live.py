"""A real RTSP camera (GStreamer's server, started here) through `facestream run --config`.

One run, two cameras from a cameras.toml: ``door`` plays hamilton_360p.mp4 live
(with credentials in its URL) and ``mute`` accepts connections but never sends
a frame. Measured: capture -> result record latency (the record's stream id is
Redis's clock at XADD), the reconnect delay after the server was killed for
10 s and restarted, named results after it, and the stall of ``mute``.
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import redis

from tests.support.rtsp import RtspServer, SilentServer, gst_rtsp_available, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.needs(gst_rtsp_available(), reason="GStreamer RTSP server (make system-deps)"),
]
SECRET = "s3cret-pw"


def _events(client: redis.Redis, camera: str) -> list[dict]:
    rows = [msgpack.unpackb(f[b"m"]) for _, f in client.xrange("fs:events")]
    return [e for e in rows if e["camera"] == camera]


class Results:
    """Follows fs:results; latency = Redis time at XADD (the entry id) - the frame's capture time."""

    def __init__(self, client: redis.Redis):
        self.client = client
        self.last = "0-0"
        self.rows: list[tuple[float, dict]] = []  # (added at, record)

    def poll(self) -> None:
        for _, entries in self.client.xread({"fs:results": self.last}, count=1000, block=200) or []:
            for eid, fields in entries:
                self.last = eid
                added = int(eid.split(b"-")[0]) / 1000
                self.rows.append((added, msgpack.unpackb(fields[b"m"])))

    def named(self, since: float = 0.0) -> list[tuple[float, dict]]:
        return [
            (t, r)
            for t, r in self.rows
            if "event" not in r and r.get("name") and r["capture_time"] >= since
        ]


def test_live_rtsp_camera_latency_reconnect_and_stall(
    gallery_stack, examples_dir: Path, tmp_path: Path
) -> None:
    data_dir, endpoints = gallery_stack
    client = redis.Redis.from_url(endpoints.redis_url)
    server = RtspServer(
        examples_dir / "hamilton_360p.mp4",
        log_path=tmp_path / "rtsp.log",
        user="viewer",
        password=SECRET,
    )
    with server, SilentServer() as mute:
        config = tmp_path / "cameras.toml"
        config.write_text(
            f'[defaults]\nstall_timeout_s = 4\n\n[cameras.door]\nurl = "{server.url}"\n\n'
            f'[cameras.mute]\nurl = "{mute.url}"\nopen_timeout_s = 3\n'
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
        cmd = [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(data_dir),
            "--redis-url",
            endpoints.redis_url,
            "--milvus-uri",
            endpoints.milvus_uri,
            "--log-level",
            "INFO",
            "run",
            "--config",
            str(config),
            "--out",
            str(tmp_path / "live.jsonl"),
        ]
        stderr = open(tmp_path / "run.err", "w")
        run = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        results = Results(client)
        try:
            # 1. named tracks arrive; collect 25 s of them for the latency
            first = wait_for(lambda: results.poll() or results.named(), 240, 0)
            assert first, "no named result within 240 s"
            t0 = time.time()
            while time.time() - t0 < 25:
                results.poll()
            latencies = [t - r["capture_time"] for t, r in results.named() if r["camera"] == "door"]
            median = statistics.median(latencies)
            print(
                f"\nlive latency capture->record over {len(latencies)} named records: median {median:.3f} s, "
                f"p90 {statistics.quantiles(latencies, n=10)[-1]:.3f} s"
            )

            # 2. the camera goes away for 10 s and comes back on the same port
            server.kill()
            killed = time.time()
            time.sleep(10)
            server.start()
            back = time.time()
            streaming = wait_for(
                lambda: [
                    e
                    for e in _events(client, "door")
                    if e["state"] == "streaming" and e["time"] > back
                ],
                60,
            )
            assert streaming, "door never streamed again"
            reconnect_s = streaming[0]["time"] - back
            print(f"reconnected {reconnect_s:.2f} s after the server's return")
            states = [e["state"] for e in _events(client, "door") if e["time"] >= killed]
            assert "reconnecting" in states
            resumed = wait_for(lambda: results.poll() or results.named(since=back), 120, 0)
            assert resumed, "no named result after the reconnect"
            print(f"named results again {resumed[0][0] - back:.2f} s after the server's return")

            # 3. a server that accepts connections but never sends a frame is stalled
            mute_states = {e["state"] for e in _events(client, "mute")}
            assert "stalled" in mute_states and "streaming" not in mute_states, mute_states
            assert mute.accepted >= 1
            info = client.hgetall("fs:camera:mute")
            assert int(info[b"state:stalled"]) >= 1
        finally:
            run.send_signal(signal.SIGTERM)  # warm stop, like Ctrl-C
            slow_stop = False
            try:
                code = run.wait(45)
            except subprocess.TimeoutExpired:
                # not out yet: its threads' stacks (faulthandler on SIGUSR1) say where it waits; it goes on
                slow_stop = True
                run.send_signal(signal.SIGUSR1)
                try:
                    code = run.wait(
                        90
                    )  # past its stop_timeout_s (60 s): it gives up on what is in flight
                except subprocess.TimeoutExpired:
                    run.kill()
                    code = None
            stderr.close()
    err = (tmp_path / "run.err").read_text()
    assert code == 0, (
        f"warm stop of a live run: exit code {code} (None: still running after 135 s): {err[-3000:]}"
    )
    assert median < 3.0, (
        f"median latency {median:.2f} s"
    )  # the figure is 1 s; printed above
    # the figure is 5 s (printed above); the bound leaves room for one backoff step with jitter
    # on a loaded machine, while still failing a grabber that does not reconnect promptly
    assert reconnect_s < 15.0, f"reconnected {reconnect_s:.1f} s after the server came back"
    # credentials never appear in logs, camera info or events
    texts = [err] + [p.read_text(errors="replace") for p in (data_dir / "logs").glob("*.log")]
    texts += [str(client.hgetall("fs:camera:door")), str(_events(client, "door"))]
    assert not any(SECRET in t for t in texts)
    assert "***@127.0.0.1" in client.hget("fs:camera:door", "source").decode()
    if slow_stop or "stopped waiting" in err:
        # once in a full-suite run (before `run` handled signals with a flag): still running 120 s after SIGTERM
        pytest.xfail(
            f"warm stop of a live run took more than 45 s; stacks and log tail: {err[-6000:]}"
        )
