"""Fault matrix: SIGKILL one process of a file run at a random frame, compare with an undisturbed run.

``python -m bench.faults [--times N] [--kinds grabber,detector,...] [--out faults.json]``

Every row is a real ``facestream run CLIP --out records.jsonl`` (which starts its own Valkey,
milvus-lite and workers) over a copy of one data directory where the gallery was enrolled once.
While it runs, the process of one kind is SIGKILLed once the run's ``done`` counter reaches a
random frame:

- detector, tracker, embedder, matcher: the worker (its pid from its health key);
- Valkey, milvus-lite: the embedded server (its pid from ``<data_dir>/stack/*.json``);
- grabber: a file run's grabber is a thread of the ``run`` process, so that process is killed
  and the same command is run again; the row is the second run, plus the processes the killed
  one left behind.

Columns: frames accounted for (from the run's last lines), duplicate records, wrong names (a
record naming someone other than the undisturbed run names at that frame and track), records
differing from the undisturbed run (track ids without their run id, unknown labels by order of
appearance, boxes to 0.1 px), time from start to exit. A ``none`` row, an undisturbed run
compared with the first, shows what differs without any fault.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

import redis

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
KINDS = ("grabber", "detector", "tracker", "embedder", "matcher", "valkey", "milvus-lite")
WORKER_KIND = {"detector": "detect", "tracker": "track", "embedder": "embed", "matcher": "match"}
SERVER_RECORD = {"valkey": "redis", "milvus-lite": "milvus"}
RUN_TIMEOUT_S = 600.0
log = logging.getLogger("bench.faults")


@dataclass
class Row:
    kind: str
    kill_frame: int | None
    killed: bool
    exit_code: int
    accounted: str  # "275/275"
    duplicates: int
    wrong_names: int
    differing: int
    records: int
    seconds: float
    left_behind: int = 0  # processes of a killed run still running after its rerun (grabber)
    note: str = ""


# --- records ------------------------------------------------------------------------------


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _track_no(track_id: str | None) -> str:
    """``hamilton_360p-620c44-3`` -> ``3``: the run id in the middle differs between runs."""
    return str(track_id).rsplit("-", 1)[-1]


def normalized(records: list[dict]) -> list[tuple]:
    """Comparable records: run-independent track ids, unknown labels renamed in order of
    appearance (they are random per run), boxes rounded; wall-clock fields left out."""
    labels: dict[str, str] = {}
    out = []
    for r in sorted(records, key=lambda r: (r.get("frame", 0), _track_no(r.get("track_id")))):
        label = r.get("label")
        if label:
            label = labels.setdefault(label, f"unknown#{len(labels) + 1}")
        bbox = tuple(round(float(v), 1) for v in r.get("bbox") or ())
        out.append(
            (
                r.get("frame"),
                _track_no(r.get("track_id")),
                r.get("event"),
                r.get("name"),
                label,
                bbox,
            )
        )
    return out


def duplicates(records: list[dict]) -> int:
    keys = Counter(
        (r.get("camera"), r.get("frame"), r.get("track_id"), r.get("event")) for r in records
    )
    return sum(n - 1 for n in keys.values() if n > 1)


def differing(base: list[dict], other: list[dict]) -> int:
    """Records in one run and not the other (a multiset difference, both ways)."""
    a, b = Counter(normalized(base)), Counter(normalized(other))
    return sum(((a - b) + (b - a)).values())


def wrong_names(base: list[dict], other: list[dict]) -> int:
    """Records that name a person the undisturbed run does not name at that frame and track."""
    named = {
        (r["frame"], _track_no(r["track_id"])): r.get("name") for r in base if "event" not in r
    }
    return sum(
        1
        for r in other
        if "event" not in r
        and r.get("name")
        and named.get((r["frame"], _track_no(r["track_id"]))) != r["name"]
    )


# --- one run ------------------------------------------------------------------------------


def _cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), *args]


def _env() -> dict[str, str]:
    # the run starts its own servers in its data dir: no URLs from the caller's environment
    return {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}


def _redis(data_dir: Path) -> redis.Redis:
    record = json.loads((data_dir / "stack" / "redis.json").read_text())
    password = (data_dir / "stack" / "redis.password").read_text().strip()
    return redis.Redis.from_url(record["url"], password=password, socket_timeout=2)


def _done(data_dir: Path) -> int:
    try:
        client = _redis(data_dir)
        try:
            keys = list(client.scan_iter(match="fs:progress:*"))
            return max((int(client.hget(k, "done") or 0) for k in keys), default=0)
        finally:
            client.close()
    except (OSError, ValueError, KeyError, redis.RedisError):
        return -1  # not up yet, or the very server just killed


def _victim(kind: str, data_dir: Path, run: subprocess.Popen) -> int | None:
    if kind == "grabber":
        return run.pid
    if kind in SERVER_RECORD:
        record = json.loads((data_dir / "stack" / f"{SERVER_RECORD[kind]}.json").read_text())
        return int(record["pid"])
    client = _redis(data_dir)
    try:
        for key in client.scan_iter(match=f"fs:health:{WORKER_KIND[kind]}:*"):
            raw = client.get(key)
            if raw:
                return int(json.loads(raw)["pid"])
    finally:
        client.close()
    return None


def _accounted(stderr: str) -> str:
    found = re.findall(r"(\d+/[\d?]+) frames accounted for", stderr)
    return found[-1] if found else "-"


def _processes_of(data_dir: Path) -> list[int]:
    """Live processes started for ``data_dir`` (workers carry it in their environment,
    milvus-lite on its command line, Valkey as its working directory)."""
    needle = str(data_dir).encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (
                needle in (proc / "environ").read_bytes()
                or needle in (proc / "cmdline").read_bytes()
                or os.readlink(proc / "cwd").startswith(str(data_dir))
            ):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def run_once(
    template: Path, work: Path, clip: Path, kind: str | None, kill_frame: int | None, name: str
) -> tuple[list[dict], Row]:
    data_dir = work / name
    shutil.copytree(template, data_dir)
    out, err = work / f"{name}.jsonl", work / f"{name}.err"
    started = time.monotonic()
    cmd = _cli(data_dir, "run", str(clip), "--out", str(out))
    with open(err, "w") as err_fh:
        run = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=err_fh)
    killed, note, left = False, "", 0
    try:
        if kind is not None and kill_frame is not None:
            while run.poll() is None and _done(data_dir) < kill_frame:
                time.sleep(0.05)
            pid = _victim(kind, data_dir, run) if run.poll() is None else None
            if pid:
                os.kill(pid, signal.SIGKILL)
                killed = True
                log.info("%s: SIGKILL %s (pid %d) at frame %d", name, kind, pid, kill_frame)
            else:
                note = "ended before the kill"
        run.wait(RUN_TIMEOUT_S)
        if kind == "grabber" and killed:
            with open(err, "a") as err_fh:
                rerun = subprocess.run(
                    cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=err_fh, timeout=RUN_TIMEOUT_S
                )
            run.returncode = rerun.returncode
            time.sleep(2)  # the rerun stops what it started; what remains was the killed run's
            leftovers = _processes_of(data_dir)
            left = len(leftovers)
            for pid in leftovers:
                os.kill(pid, signal.SIGKILL)
            note = "killed run's records discarded; second run measured"
    except subprocess.TimeoutExpired:
        run.kill()
        note = f"did not finish in {RUN_TIMEOUT_S:.0f} s"
    seconds = time.monotonic() - started
    stderr = err.read_text(errors="replace")
    records = read_records(out)
    row = Row(
        kind=kind or "none",
        kill_frame=kill_frame,
        killed=killed,
        exit_code=run.returncode if run.returncode is not None else -1,
        accounted=_accounted(stderr),
        duplicates=duplicates(records),
        wrong_names=0,
        differing=0,
        records=len(records),
        seconds=round(seconds, 1),
        left_behind=left,
        note=note,
    )
    shutil.rmtree(data_dir, ignore_errors=True)  # a copy of the gallery per row adds up
    return records, row


def prepare(work: Path, gallery: Path) -> Path:
    """A data dir with ``gallery`` enrolled (servers stopped again: each row copies it)."""
    template = work / "template"
    done = subprocess.run(
        _cli(template, "enroll", "--dir", str(gallery)), env=_env(), capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"enroll --dir {gallery} failed:\n{done.stderr[-2000:]}")
    return template


def table(rows: list[Row]) -> str:
    head = (
        "| kill | at frame | frames accounted | duplicates | wrong names | records differing "
        "| time to finish | notes |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        notes = "; ".join(
            x
            for x in (
                r.note,
                f"exit {r.exit_code}" if r.exit_code else "",
                f"{r.left_behind} processes left behind" if r.left_behind else "",
            )
            if x
        )
        lines.append(
            f"| {r.kind} | {r.kill_frame if r.kill_frame is not None else '-'} | {r.accounted} | "
            f"{r.duplicates} | {r.wrong_names} | {r.differing} of {r.records} | {r.seconds:.0f} s "
            f"| {notes} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.split("\n")[0])
    p.add_argument("clip", nargs="?", type=Path, default=SHARED / "media" / "hamilton_360p.mp4")
    p.add_argument("--gallery-dir", type=Path, default=SHARED / "faces" / "gallery")
    p.add_argument("--times", type=int, default=5, help="kills per process kind (default 5)")
    p.add_argument("--kinds", default=",".join(KINDS), help=f"comma list of {', '.join(KINDS)}")
    p.add_argument("--seed", type=int, default=17)
    p.add_argument(
        "--frames", type=int, default=275, help="kill frames are drawn in [10, frames-25)"
    )
    p.add_argument("--out", type=Path, default=Path("faults.json"))
    p.add_argument("--work-dir", type=Path, default=None, help="default: a temporary directory")
    args = p.parse_args(argv)
    logging.basicConfig(level="INFO", format="%(asctime)s %(name)s: %(message)s")
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        p.error(f"--kinds: expected some of {', '.join(KINDS)}, got {unknown}")
    if args.times < 1:
        p.error(f"--times: expected at least 1, got {args.times}")
    rng = random.Random(args.seed)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="facestream-faults-"))
    work.mkdir(parents=True, exist_ok=True)
    template = prepare(work, args.gallery_dir)
    base, first = run_once(template, work, args.clip, None, None, "baseline")
    log.info(
        "undisturbed run: %s frames, %d records, %.0f s",
        first.accounted,
        first.records,
        first.seconds,
    )
    rows = [first]
    plan = [(None, None)] + [
        (k, rng.randrange(10, args.frames - 25)) for k in kinds for _ in range(args.times)
    ]
    for i, (kind, frame) in enumerate(plan):
        records, row = run_once(template, work, args.clip, kind, frame, f"row{i}-{kind or 'none'}")
        row.wrong_names = wrong_names(base, records)
        row.differing = differing(base, records)
        rows.append(row)
        log.info("%s", row)
    rows[0].note = "the reference run"
    print(table(rows))
    args.out.write_text(json.dumps([asdict(r) for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
