"""How many 1080p frames per second one Valkey carries through facestream's bus.

    PYTHONPATH=. python -m bench.bus_ceiling [--frames 600] [--clients 1,2,4] [--faces 8]

A private Valkey started as `run` starts it (AOF on, fsync every second). The payloads are the
pipeline's own messages built from a real frame of crowd_1080p.mp4: the grabber's JPEG frame,
the detector's faces with their face chips (the frame's JPEG stops there), the tracker's frame,
the embedder's vectors, and one result record per face. Each client process moves its own
camera's frames through the four hops as the stages do, one command per step: XADD to the
stage stream, XREADGROUP of the next entry, XACK once the next hop is published.

Python clients on this machine share its cores with the server, so the rate they reach is a
floor; the figure that bounds a deployment is the server's own CPU time per frame (read from
/proc), since Valkey executes commands on one thread: ``ceiling fps = 1 s / (server CPU s per
frame)``. The AOF's bytes per frame give the disk bandwidth the same rate needs.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import redis

from bench.private_redis import private_redis
from config.settings import Settings
from tracker.faces import Faces
from workers import codec
from workers.messages import FrameMeta, FrameMsg, Shots
from workers.models.chips import encode_jpeg, make_chips

CLIP = Path(__file__).resolve().parents[2] / "shared/media/crowd_1080p.mp4"
GROUP = "bench"
HOPS = ("frames", "detected", "tracked", "embedded")  # each read by the next stage's group


def _frame(clip: Path, index: int = 100) -> np.ndarray:
    """One decoded BGR frame of the clip."""
    cap = cv2.VideoCapture(str(clip))
    cap.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = cap.read()
    cap.release()
    if not ok:
        raise SystemExit(f"cannot read frame {index} of {clip}")
    return frame


def payloads(bgr: np.ndarray, faces: int, dim: int = 512) -> dict[str, bytes]:
    """The bytes each hop carries for one frame with ``faces`` faces of 40-120 px."""
    settings = Settings()
    h, w = bgr.shape[:2]
    rng = np.random.default_rng(0)
    sizes = rng.uniform(40, 120, faces)
    x1, y1 = rng.uniform(0, w - 130, faces), rng.uniform(0, h - 130, faces)
    xyxy = np.stack([x1, y1, x1 + sizes, y1 + sizes], 1).astype(np.float32)
    marks = np.repeat(xyxy[:, None, :2], 5, 1) + sizes[:, None, None] / 2
    found = Faces(
        xyxy,
        np.full(faces, 0.99, np.float32),
        landmarks=marks.astype(np.float32),
        sharpness=np.full(faces, 50.0, np.float32),
    )
    ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, settings.jpeg_quality])
    assert ok
    meta = FrameMeta("cam", "run", 1, 0.04, time.time(), w, h)
    frame = FrameMsg(meta, jpeg=jpeg.tobytes())
    chips, origin, scale = make_chips(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), found)
    rows = tuple(range(faces))
    shots = Shots(rows, tuple(encode_jpeg(c, settings.jpeg_quality) for c in chips), origin, scale)
    detected = frame.detected(found, shots, scene=np.zeros(96, np.float32))
    ids = tuple(f"cam-abcdef-{i}" for i in rows)
    tracked = detected.tracked(replace(found, track_ids=ids), shots)
    vectors = rng.normal(size=(faces, dim)).astype(np.float32)
    embedded = tracked.embedded(rows, vectors, "facenet")
    record = {
        "camera": "cam",
        "frame": 1,
        "ts": 0.04,
        "track_id": ids[0],
        "name": "someone_enrolled",
        "person_id": "0123456789abcdef",
        "score": 0.93,
        "bbox": [1.0, 2.0, 30.0, 40.0],
        "capture_time": time.time(),
        "label": None,
    }
    return {
        "frames": frame.to_bytes(),
        "detected": detected.to_bytes(),
        "tracked": tracked.to_bytes(),
        "embedded": embedded.to_bytes(),
        "record": codec.encode(record),
    }


def _client(url: str, camera: str, frames: int, faces: int, data: dict[str, bytes]) -> None:
    """One camera's frames through every hop, one command per step as the stages send them."""
    r = redis.Redis.from_url(url)
    streams = [f"fs:bench:{hop}:{camera}" for hop in HOPS]
    results = f"fs:bench:results:{camera}"
    for s in streams:
        try:
            r.xgroup_create(s, GROUP, id="0", mkstream=True)
        except redis.ResponseError:  # BUSYGROUP: the warm-up round made it
            pass
    for _ in range(frames):
        r.xadd(streams[0], {b"m": data["frames"]}, maxlen=500, approximate=True)
        for i, stream in enumerate(streams):
            reply = r.xreadgroup(GROUP, "c", {stream: ">"}, count=1)
            entry_id = reply[0][1][0][0]
            if i + 1 < len(streams):
                nxt = data[HOPS[i + 1]]
                r.xadd(streams[i + 1], {b"m": nxt}, maxlen=20_000, approximate=True)
            else:
                pipe = r.pipeline(transaction=False)
                for _ in range(faces):
                    pipe.xadd(results, {b"m": data["record"]}, maxlen=200_000, approximate=True)
                pipe.execute()
            r.xack(stream, GROUP, entry_id)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _round(url: str, clients: int, frames: int, faces: int, data) -> None:
    procs = [
        mp.Process(target=_client, args=(url, f"c{clients}-{i}", frames, faces, data))
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode:
            raise SystemExit(f"a client failed with exit status {p.exitcode}")


def measure(url: str, pid: int, aof: Path, clients: int, frames: int, faces: int, data) -> dict:
    r = redis.Redis.from_url(url)
    r.flushall()
    # no AOF rewrite while measuring: a rewrite shrinks the file and hides the bytes appended
    r.config_set("auto-aof-rewrite-percentage", 0)
    # a warm-up round first: the frames streams reach their MAXLEN and the server's memory is
    # allocated, so that the timed round sees a running deployment's steady state
    _round(url, clients, frames, faces, data)
    aof_before = sum(f.stat().st_size for f in aof.rglob("*") if f.is_file())
    cpu_before, started = _cpu_s(pid), time.perf_counter()
    _round(url, clients, frames, faces, data)
    wall, cpu = time.perf_counter() - started, _cpu_s(pid) - cpu_before
    time.sleep(1.2)  # the AOF is flushed every second
    aof_after = sum(f.stat().st_size for f in aof.rglob("*") if f.is_file())
    total = clients * frames
    return {
        "clients": clients,
        "fps": total / wall,
        "server_ms_per_frame": cpu / total * 1e3,
        "ceiling_fps": total / cpu if cpu else float("inf"),
        "aof_kib_per_frame": (aof_after - aof_before) / total / 1024,
        "used_mib": int(r.info("memory")["used_memory"]) / 2**20,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=600, help="frames per client")
    ap.add_argument("--clients", default="1,2,4", help="client processes, one camera each")
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--faces", type=int, default=8, help="faces per frame (crowd_1080p: 5-12)")
    args = ap.parse_args()
    data = payloads(_frame(args.clip), args.faces)
    print("bytes per frame: " + ", ".join(f"{k} {len(v) / 1024:.1f} KiB" for k, v in data.items()))
    with private_redis() as (url, server, data_dir):
        print("AOF  clients  client fps  server ms/frame  ceiling fps  AOF KiB/frame  used MiB")
        client = redis.Redis.from_url(url)
        for aof in ("yes", "no"):  # as `run` starts it, then without persistence
            client.config_set("appendonly", aof)
            for n in (int(x) for x in args.clients.split(",")):
                m = measure(url, server.pid, data_dir, n, args.frames, args.faces, data)
                print(
                    f"{aof:>3}  {m['clients']:7d}  {m['fps']:10.0f}  "
                    f"{m['server_ms_per_frame']:15.3f}  {m['ceiling_fps']:11.0f}  "
                    f"{m['aof_kib_per_frame']:13.1f}  {m['used_mib']:8.0f}"
                )
        print(
            "ceiling fps = frames per second of the server's one command thread; "
            "1080p25 cameras = ceiling / 25 (AOF bandwidth: ceiling x AOF KiB/frame)"
        )


if __name__ == "__main__":
    main()
