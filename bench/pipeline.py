"""Row (a): facestream itself, real worker processes on the embedded stack, one clip.

Workers are started here (not by ``facestream run``) so that a row can have
several detector processes and its own settings, and so that their pids are
known for CPU and memory accounting. File mode uses the real ``Grabber``
(lossless, as fast as the pipeline takes frames); ``paced`` mode publishes the
clip at its own frame rate with wall-clock capture times, as a live camera
would, to measure capture-to-result latency at full rate.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from operator import attrgetter
from pathlib import Path

import cv2
import msgpack
import numpy as np

from bench import procstat
from bench.accuracy import precision_recall
from config.settings import Settings
from facestream.processes import child_env
from facestream.services import Services
from ingest.grabber import Grabber
from workers import health, keys
from workers.bus import FIELD
from workers.messages import FrameMeta, FrameMsg
from workers.progress import RunProgress
from workers.scene import CutDetector, scene_histogram

log = logging.getLogger(__name__)
KINDS = ("detect", "track", "embed", "match")


class ResultsFollower(threading.Thread):
    """Collects one camera's result records with their arrival wall-clock time."""

    def __init__(self, services: Services, camera: str):
        super().__init__(daemon=True, name=f"results-{camera}")
        self.redis = services.redis
        self.camera = camera
        last = self.redis.xrevrange(keys.RESULTS, count=1)
        self.last_id = last[0][0] if last else b"0-0"
        self.records: list[tuple[float, dict]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for _stream, entries in (
                self.redis.xread({keys.RESULTS: self.last_id}, count=1000, block=100) or []
            ):
                now = time.time()
                for eid, fields in entries:
                    self.last_id = eid
                    rec = msgpack.unpackb(fields[FIELD], raw=False)
                    if rec.get("camera") == self.camera:
                        self.records.append((now, rec))


def paced_feed(
    services: Services, settings: Settings, camera: str, clip: Path, stop: threading.Event
) -> int:
    """Publish the clip at its frame rate with live semantics (capture_time = now, max_age_s), every frame
    (the live grabber would skip frames while too many are in flight); returns the frame count."""
    client, bus = services.redis, services.bus
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    run = f"paced-{int(time.time() * 1000)}"
    progress, stream = RunProgress(client, camera, run), keys.frames(camera)
    client.sadd(keys.CAMERAS, camera)
    client.hset(keys.camera_info(camera), mapping={"run": run, "fps": fps, "width": w, "height": h})
    _wait_for_readers(client, stream)
    start, seq, cuts = time.time(), 0, CutDetector(settings.scene_cut_threshold)
    while not stop.is_set():
        due = start + seq / fps
        if due > time.time():
            time.sleep(due - time.time())
        ok, frame = cap.read()
        if not ok:
            break
        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
        scene = scene_histogram(frame)  # as the grabber does
        now = time.time()
        # max_age_s as the live grabber sets it: it marks a live frame (stale ones skipped, shots capped)
        msg = FrameMsg(
            FrameMeta(
                camera=camera,
                run=run,
                seq=seq,
                ts=now,
                capture_time=now,
                width=w,
                height=h,
                cut=cuts.is_cut(scene),
                max_age_s=settings.live.max_age_s,
            ),
            jpeg=buf.tobytes(),
            scene=scene,
        )
        bus.publish(stream, msg.to_bytes(), maxlen=2000)
        progress.count_published()
        seq += 1
    cap.release()
    eos = FrameMsg.end_of_stream(
        FrameMeta(
            camera=camera,
            run=run,
            seq=seq,
            ts=time.time(),
            capture_time=time.time(),
            width=w,
            height=h,
        )
    )
    bus.publish(stream, eos.to_bytes(), maxlen=2000)
    progress.set_total(seq)
    return seq


def _wait_for_readers(client, stream: str, timeout_s: float = 10.0) -> None:
    """Until the detectors read the new camera's stream (they list cameras every STREAM_REFRESH_S):
    the live row measures steady latency, not how soon a new camera is noticed."""
    import redis

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if any(
                g["name"] in (keys.GROUP_DETECT, keys.GROUP_DETECT.encode())
                for g in client.xinfo_groups(stream)
            ):
                return
        except redis.ResponseError:
            pass  # no stream yet
        time.sleep(0.05)


class Workers:
    """The worker processes of one row: ``detectors`` detectors and one of each other kind."""

    def __init__(self, services: Services, settings: Settings, log_dir: Path, detectors: int = 1):
        env = child_env(settings, services.endpoints)
        if settings.torch_threads == 0:
            env["FACESTREAM_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 2) // 2))
        log_dir.mkdir(parents=True, exist_ok=True)
        self.services = services
        self.procs: list[subprocess.Popen] = []
        self.expected = {k: (detectors if k == "detect" else 1) for k in KINDS}
        for kind, count in self.expected.items():
            for i in range(count):
                with open(log_dir / f"{kind}-{i}.log", "ab") as fh:
                    self.procs.append(
                        subprocess.Popen(
                            [sys.executable, "-m", "facestream", "worker", kind],
                            env=env,
                            stdout=fh,
                            stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL,
                        )
                    )

    def wait_ready(self, timeout_s: float = 240.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError("a bench worker exited during start-up (see its log)")
            client = self.services.redis
            if all(len(health.alive(client, k)) >= n for k, n in self.expected.items()):
                return
            time.sleep(0.2)
        raise RuntimeError(f"bench workers not ready after {timeout_s:.0f} s")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _percentile(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


def run_facestream(
    services: Services,
    settings: Settings,
    clip: Path,
    camera: str,
    log_dir: Path,
    detectors: int = 1,
    paced: bool = False,
    timeout_s: float = 900.0,
) -> dict:
    client = services.redis
    # a previous row's workers may still hold health keys for a moment: count only ours
    for key in client.scan_iter(match=keys.health_pattern()):
        client.delete(key)
    workers = Workers(services, settings, log_dir, detectors)
    try:
        workers.wait_ready()
        follower = ResultsFollower(services, camera)
        follower.start()
        tree = procstat.descendants(os.getpid())
        cpu_start = {p: procstat.cpu_seconds(p) for p in tree}
        cpu0 = sum(cpu_start.values())
        stop = threading.Event()
        started = time.time()
        holder: dict = {}
        if paced:
            thread = threading.Thread(
                target=lambda: holder.update(
                    total=paced_feed(services, settings, camera, clip, stop)
                ),
                daemon=True,
            )
        else:
            grabber = Grabber(client, services.bus, camera, str(clip), settings, stop=stop)
            holder["grabber"] = grabber
            thread = threading.Thread(target=grabber.run, daemon=True)
        thread.start()
        samples = _follow_progress(client, camera, holder, started, timeout_s)
        follower.stop.set()
        follower.join(2)
        ended = time.time()
        tree = procstat.descendants(os.getpid())
        cpu = sum(procstat.cpu_seconds(p) for p in tree) - cpu0
        rss: dict[str, float] = {}
        cpu_by: dict[str, float] = {}
        for p in tree:
            name = procstat.process_name(p)
            rss[name] = round(rss.get(name, 0.0) + procstat.peak_rss_mb(p), 1)
            cpu_by[name] = cpu_by.get(name, 0.0) + procstat.cpu_seconds(p) - cpu_start.get(p, 0.0)
    finally:
        stop_flag = locals().get("stop")
        if stop_flag is not None:
            stop_flag.set()
        workers.stop()
    total = samples[-1][1] if samples else 0
    records = [r for _, r in follower.records]
    first_arrival: dict[int, tuple[float, float]] = {}
    for arrival, r in follower.records:
        if "event" not in r and r["frame"] not in first_arrival:
            first_arrival[r["frame"]] = (arrival, r["capture_time"])
    latencies = [a - c for a, c in first_arrival.values()]
    in_order = [first_arrival[f][0] - first_arrival[f][1] for f in sorted(first_arrival)]
    # where the tail is: warm-up, a shot cut, or all along
    tenths = (
        [in_order[i * len(in_order) // 10 : (i + 1) * len(in_order) // 10] for i in range(10)]
        if in_order
        else []
    )
    row = {
        "system": "facestream",
        "clip": clip.name,
        "mode": "paced" if paced else "file",
        "detectors": detectors,
        "frames": total,
        "wall_s": round(ended - started, 2),
        "fps": round(total / max(ended - started, 1e-9), 2),
        "steady_fps": _steady_fps(samples, total),
        "latency_p50_s": _percentile(latencies, 50),
        "latency_p95_s": _percentile(latencies, 95),
        "cpu_s_per_frame": round(cpu / max(total, 1), 4),
        "latency_p95_by_tenth_of_frames_s": [_percentile(t, 95) for t in tenths],
        "peak_rss_mb": round(sum(rss.values()), 1),
        "peak_rss_by_process_mb": rss,
        # where the CPU goes; "bench" is the grabber (decode + JPEG encode + publish) and this harness's readers
        "cpu_ms_per_frame_by_process": {
            k: round(v / max(total, 1) * 1e3, 1) for k, v in sorted(cpu_by.items())
        },
        # what the CPU time allows when the pipeline has the machine to itself (an upper bound)
        "cpu_bound_fps": round((os.cpu_count() or 1) / max(cpu / max(total, 1), 1e-9), 1),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "settings": {
            k: attrgetter(k)(settings)
            for k in (
                "detect.every_n",
                "detect.min_face_px",
                "detect.max_side_px",
                "embed.every_n",
                "jpeg_quality",
                "torch_threads",
            )
        },
    }
    if paced:
        row["stage_wait_ms_p50_p95"] = stage_waits(client, camera)
    if clip.name.startswith("hamilton"):
        row.update(precision_recall(records))
    return row


def stage_waits(client, camera: str) -> dict[str, list[float]]:
    """Per stage, [p50, p95] ms from a frame's entry in the stage's input stream to its entry in the next
    (queueing + work; stream entry ids are Redis's clock at XADD), so the tail of the latency has a culprit."""
    streams = [keys.frames(camera), keys.DETECTED, keys.TRACKED, keys.EMBEDDED, keys.RESULTS]
    added: list[dict[int, float]] = []
    for stream in streams:
        at: dict[int, float] = {}
        for eid, fields in client.xrange(stream):
            try:
                if stream == keys.RESULTS:
                    record = msgpack.unpackb(fields[FIELD], raw=False)
                    seq = (
                        None
                        if "event" in record or record.get("camera") != camera
                        else record["frame"]
                    )
                else:
                    msg = FrameMsg.from_bytes(fields[FIELD])
                    seq = msg.seq if msg.camera == camera and not msg.is_eos else None
            except Exception:  # noqa: BLE001 - not a message of ours: nothing to time
                continue
            if seq is not None:
                at.setdefault(seq, int(eid.split(b"-")[0]) / 1e3)
        added.append(at)
    out = {}
    for stage, before, after in zip(
        ("detect", "track", "embed", "match"), added, added[1:], strict=False
    ):
        waits = [(after[seq] - t) * 1e3 for seq, t in before.items() if seq in after]
        out[stage] = [round(_percentile(waits, q) or 0.0, 1) for q in (50, 95)]
    return out


def _follow_progress(
    client, camera: str, holder: dict, started: float, timeout_s: float
) -> list[tuple[float, int]]:
    samples: list[tuple[float, int]] = []
    while time.time() - started < timeout_s:
        run = client.hget(keys.camera_info(camera), "run")
        if run:
            counts = RunProgress(client, camera, run.decode()).read()
            samples.append((time.time(), counts.done))
            if counts.complete:
                return samples
        time.sleep(0.05)
    raise TimeoutError(f"bench: {camera} did not finish in {timeout_s:.0f} s")


def _steady_fps(samples: list[tuple[float, int]], total: int) -> float | None:
    """Frames per second between 10% and 90% of the frames done: start-up and drain left out."""
    if total < 10:
        return None
    t10 = next(t for t, d in samples if d >= 0.1 * total)
    t90 = next(t for t, d in samples if d >= 0.9 * total)
    done10 = next(d for t, d in samples if t >= t10)
    done90 = next(d for t, d in samples if t >= t90)
    return round((done90 - done10) / max(t90 - t10, 1e-9), 2)
