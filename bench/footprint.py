"""Footprint of ``facestream run``: peak memory of every process and time to the first result.

    python -m bench.footprint                      # this tree: cold, then with a stack up
    python -m bench.footprint --ref 335e3a3        # that ref and this tree side by side
    python -m bench.footprint --no-gallery --modes cold --rounds 3

Each measurement runs ``python -m facestream --data-dir D run CLIP`` in a fresh data dir with
the examples gallery enrolled beforehand (``--no-gallery``: nobody enrolled; the records are
then unnamed faces). ``cold``: the run starts its own Redis, milvus-lite and workers. ``warm``:
``facestream up`` has left the servers and the workers running and the run reuses them.

Memory: every 0.1 s the resident set (VmRSS) and the proportional set (Pss: shared pages
split between the processes that map them) of every process of the run are read from /proc
and summed; the figure is the peak of that sum. The run's process tree covers the CLI, the
servers it starts and its workers; with a stack up, supervisord's tree and the recorded
servers are added. Time to the first record: from just before the command is started to the
Redis stream id of the first entry of the results stream (the id is Redis's clock in ms, the
same clock as this process's on one machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from bench.procstat import cpu_seconds, descendants, process_name

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RESULTS = "fs:results"  # workers/keys.py RESULTS; the stream's name is part of the wire contract
SAMPLE_S = 0.1
FIGURES = (
    "peak_rss_mb",
    "peak_pss_mb",
    "first_record_s",
    "cpu_to_first_record_s",
    "wall_s",
    "load_avg_1m",
)


@dataclass
class Sample:
    """The largest summed memory seen, and each process's own peak, by process name."""

    peak_rss_mb: float = 0.0
    peak_pss_mb: float = 0.0

    peak_by_pid: dict[int, float] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    cpu_s: float = 0.0  # CPU seconds of the processes seen, as of the last sample

    def add(self, pids: list[int]) -> None:
        rss_sum = pss_sum = cpu = 0.0
        for pid in pids:
            rss, pss = _memory_mb(pid)
            if not rss:
                continue
            rss_sum += rss
            pss_sum += pss
            cpu += cpu_seconds(pid)
            self.peak_by_pid[pid] = max(self.peak_by_pid.get(pid, 0.0), rss)
            name = process_name(pid)  # the latest: a child's name changes when it execs
            if name not in ("", "?"):
                self.names[pid] = name
        self.cpu_s = max(self.cpu_s, cpu)
        self.peak_rss_mb = max(self.peak_rss_mb, rss_sum)
        self.peak_pss_mb = max(self.peak_pss_mb, pss_sum)

    def by_name(self) -> dict[str, float]:
        return {f"{self.names.get(p, '?')} ({p})": v for p, v in sorted(self.peak_by_pid.items())}


def _memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, Pss) of one process in MiB; zeros when it is gone or a kernel thread."""
    rss = pss = 0.0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
                break
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1]) / 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    return rss, pss


def _cli(tree: Path, data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "facestream", "--data-dir", str(data_dir), *args]


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def _check(tree: Path, cmd: list[str], what: str, log: Path) -> None:
    with open(log, "ab") as fh:
        done = subprocess.run(cmd, cwd=tree, env=_env(tree), stdout=fh, stderr=fh, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{what}: exit status {done.returncode}; {log} ends with:\n{tail}")


def _stack_pids(data_dir: Path) -> list[int]:
    """Roots of what `up` left running: supervisord and the recorded servers."""
    pids = []
    for path in (data_dir / "supervisor" / "supervisord.pid",):
        try:
            pids.append(int(path.read_text().strip()))
        except (OSError, ValueError):
            pass
    for name in ("redis", "milvus"):
        try:
            pids.append(int(json.loads((data_dir / "stack" / f"{name}.json").read_text())["pid"]))
        except (OSError, ValueError, KeyError):
            pass
    return pids


class FirstRecord:
    """Watches the results stream of the data dir's embedded Redis once its record exists."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.client: redis.Redis | None = None
        self.at: float | None = None  # epoch seconds of the first record

    def poll(self) -> None:
        if self.at is not None:
            return
        try:
            if self.client is None:
                url = json.loads((self.data_dir / "stack" / "redis.json").read_text())["url"]
                password = (self.data_dir / "stack" / "redis.password").read_text().strip()
                self.client = redis.Redis.from_url(url, password=password, socket_timeout=1)
            first = self.client.xrange(RESULTS, count=1)
        except (OSError, ValueError, KeyError, redis.RedisError):
            self.client = None  # not started yet, or restarted on a new port
            return
        if first:
            entry_id = first[0][0]
            text = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
            self.at = int(text.split("-")[0]) / 1000


def measure(tree: Path, clip: Path, gallery: Path | None, warm: bool, work: Path) -> dict:
    """One `facestream run` of ``clip`` from ``tree``'s code in a fresh data dir under ``work``."""
    data_dir = work / "data"
    log = work / "bench.log"
    work.mkdir(parents=True, exist_ok=True)
    if gallery is not None:
        _check(tree, _cli(tree, data_dir, "enroll", "--dir", str(gallery)), "enroll", log)
    if warm:
        _check(tree, _cli(tree, data_dir, "up"), "up", log)
    sample = Sample()
    first = FirstRecord(data_dir)
    cpu_to_first = 0.0
    load = os.getloadavg()[0]
    try:
        roots = _stack_pids(data_dir) if warm else []
        # what the stack's processes had used before the run: not the run's start-up cost
        before = sum(cpu_seconds(p) for root in roots for p in descendants(root))
        cmd = _cli(tree, data_dir, "run", str(clip), "--out", str(work / "results.jsonl"))
        started = time.time()
        with open(log, "ab") as fh:
            proc = subprocess.Popen(cmd, cwd=tree, env=_env(tree), stdout=fh, stderr=fh)
        while proc.poll() is None:
            pids = [p for root in [proc.pid, *roots] for p in descendants(root)]
            sample.add(pids)
            if first.at is None:
                first.poll()
                cpu_to_first = sample.cpu_s
            time.sleep(SAMPLE_S)
        wall = time.time() - started
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"run: exit status {proc.returncode}; {log} ends with:\n{tail}")
    finally:
        if warm:
            _check(tree, _cli(tree, data_dir, "down"), "down", log)
    records = sum(1 for _ in open(work / "results.jsonl", encoding="utf-8"))
    return {
        "mode": "warm" if warm else "cold",
        "peak_rss_mb": round(sample.peak_rss_mb, 1),
        "peak_pss_mb": round(sample.peak_pss_mb, 1),
        "first_record_s": None if first.at is None else round(first.at - started, 2),
        "wall_s": round(wall, 2),
        # CPU seconds the run's processes had used when the first record appeared: what the
        # start costs, less dependent than the wall clock on how busy the machine is
        "cpu_to_first_record_s": round(cpu_to_first - before, 2),
        "load_avg_1m": round(load, 2),
        "records": records,
        "processes_rss_mb": {k: round(v, 1) for k, v in sample.by_name().items()},
    }


def table(rows: list[dict], labels: list[str]) -> str:
    """Median per (mode, figure), one column per label, then after/before for two labels."""
    head = f"{'mode':<6}{'figure':<22}" + "".join(f"{lab[:14]:>16}" for lab in labels)
    lines = [head + (f"{'after/before':>14}" if len(labels) == 2 else "")]
    for mode in ("cold", "warm"):
        for figure in FIGURES:
            values = []
            for lab in labels:
                got = [
                    r[figure]
                    for r in rows
                    if r["label"] == lab and r["mode"] == mode and r[figure] is not None
                ]
                values.append(statistics.median(got) if got else None)
            if all(v is None for v in values):
                continue
            line = f"{mode:<6}{figure:<22}" + "".join(
                f"{'-' if v is None else f'{v:.2f}':>16}" for v in values
            )
            if len(values) == 2 and values[0] and values[1] is not None:
                line += f"{values[1] / values[0]:>14.3f}"
            lines.append(line)
    return "\n".join(lines)


def processes(rows: list[dict], label: str) -> str:
    """Each process's peak RSS in the last cold and warm run of ``label``."""
    lines = []
    for mode in ("cold", "warm"):
        last = [r for r in rows if r["label"] == label and r["mode"] == mode][-1:]
        if last:
            parts = ", ".join(f"{k} {v:.0f}" for k, v in last[0]["processes_rss_mb"].items())
            lines.append(f"{label} {mode}, peak RSS per process (MiB): {parts}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.footprint", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--clip", type=Path, default=SHARED / "media" / "hamilton_360p.mp4")
    p.add_argument("--gallery-dir", type=Path, default=ROOT / "examples" / "gallery")
    p.add_argument("--no-gallery", action="store_true", help="run with nobody enrolled")
    p.add_argument("--ref", help="a git ref to measure too (checked out in a temporary worktree)")
    p.add_argument("--modes", default="cold,warm", help="comma list of cold, warm")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--out", type=Path, help="write every row as JSON here")
    args = p.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or set(modes) - {"cold", "warm"}:
        p.error(f"--modes: expected a comma list of cold, warm, got {args.modes!r}")
    if not args.clip.is_file():
        p.error(f"--clip: expected a video file, got missing {args.clip}")
    gallery = None if args.no_gallery else args.gallery_dir.resolve()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="facestream-footprint-") as tmp_name:
        tmp = Path(tmp_name)
        trees = [("this tree", ROOT)]
        if args.ref:
            ref_tree = tmp / "ref"
            subprocess.run(
                [
                    "git",
                    "-C",
                    str(ROOT),
                    "worktree",
                    "add",
                    "-q",
                    "--detach",
                    str(ref_tree),
                    args.ref,
                ],
                check=True,
            )
            trees.insert(0, (args.ref, ref_tree))
        try:
            # alternating, so that a machine getting busier hurts every tree alike
            for i in range(args.rounds):
                for label, tree in trees:
                    for mode in modes:
                        print(f"round {i + 1}/{args.rounds}: {label}, {mode}", flush=True)
                        work = tmp / f"{len(rows)}"
                        row = measure(tree, args.clip.resolve(), gallery, mode == "warm", work)
                        row.update(label=label, round=i + 1)
                        rows.append(row)
                        print(
                            "  " + ", ".join(f"{f} {row[f]}" for f in (*FIGURES, "records")),
                            flush=True,
                        )
        finally:
            if args.ref:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "ref")],
                    check=False,
                )
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    print(f"\n{args.clip.name}, gallery: {'none' if gallery is None else gallery}")
    print(table(rows, [label for label, _ in trees]))
    for label, _ in trees:
        print(processes(rows, label))
    return 0


if __name__ == "__main__":
    sys.exit(main())
