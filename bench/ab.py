"""Two versions side by side: this bench's facestream rows for a git ref and for this checkout.

    python -m bench.ab 4fa3a09                      # hamilton and crowd from ../shared, 2 rounds
    python -m bench.ab v0.1.0 --clips a.mp4 --rounds 3

The ref is checked out into a temporary git worktree; each round runs ``python -m bench CLIPS
--sections facestream --skip-full-rate`` once in the ref's tree and once in this one (alternating,
so that a machine getting busier hurts both alike) and the table gives the median of the rounds
and the ratio after/before. The same venv runs both: only the project's code differs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIGURES = ("steady_fps", "cpu_bound_fps", "cpu_s_per_frame", "peak_rss_mb", "precision", "recall")


def run_bench(tree: Path, clips: list[Path], gallery: Path, out: Path) -> list[dict]:
    """The tuned file rows of one ``python -m bench`` run in ``tree``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [
        sys.executable,
        "-m",
        "bench",
        *map(str, clips),
        "--gallery-dir",
        str(gallery),
        "--sections",
        "facestream",
        "--skip-full-rate",
        "--out",
        str(out),
    ]
    subprocess.run(cmd, cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
    rows = json.loads(out.read_text())["systems"]
    return [
        r
        for r in rows
        if r.get("system") == "facestream" and r.get("mode") == "file" and r.get("label") == "tuned"
    ]


def median(rows: list[dict], clip: str, figure: str) -> float | None:
    values = [r[figure] for r in rows if r["clip"] == clip and r.get(figure) is not None]
    return statistics.median(values) if values else None


def table(before: list[dict], after: list[dict], ref: str) -> str:
    lines = [f"{'clip':<22}{'figure':<17}{ref[:12]:>12}{'this tree':>12}{'after/before':>14}"]
    for clip in sorted({r["clip"] for r in before + after}):
        for figure in FIGURES:
            b, a = median(before, clip, figure), median(after, clip, figure)
            ratio = f"{a / b:.3f}" if a is not None and b else "-"
            lines.append(f"{clip:<22}{figure:<17}{_f(b):>12}{_f(a):>12}{ratio:>14}")
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n\n")[0])
    p.add_argument("ref", help="the git ref to compare this checkout with")
    p.add_argument(
        "--clips",
        nargs="+",
        type=Path,
        default=[SHARED / "media" / "hamilton_360p.mp4", SHARED / "media" / "crowd_1080p.mp4"],
    )
    p.add_argument("--gallery-dir", type=Path, default=ROOT / "examples" / "gallery")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    clips = [c.resolve() for c in args.clips]
    missing = [str(c) for c in clips if not c.is_file()]
    if missing:
        p.error(f"--clips: expected video files, got missing {missing}")
    before: list[dict] = []
    after: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="facestream-ab-") as tmp:
        tree = Path(tmp) / "ref"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(tree), args.ref],
            check=True,
        )
        try:
            for i in range(args.rounds):
                print(f"round {i + 1}/{args.rounds}: {args.ref}", flush=True)
                before += run_bench(
                    tree, clips, args.gallery_dir.resolve(), Path(tmp) / f"b{i}.json"
                )
                print(f"round {i + 1}/{args.rounds}: this tree", flush=True)
                after += run_bench(
                    ROOT, clips, args.gallery_dir.resolve(), Path(tmp) / f"a{i}.json"
                )
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False
            )
    print(table(before, after, args.ref))
    return 0


if __name__ == "__main__":
    sys.exit(main())
