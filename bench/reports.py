"""What users take away, measured: ``python -m bench.reports`` (or ``--sections reports``).

- Screen time per enrolled person against ground truth: each composited scene
  (``bench.scenes``, 360p) is rendered to a video at ``--fps``, run through
  ``facestream run`` (real workers, embedded stack, the gallery enrolled from other
  photos than the scenes show), and ``report screen-time``'s figure per person is
  compared with the frames in which the trajectories make that face visible
  (``bench.synth.MIN_VISIBLE``); frames where it is only partly visible (at least
  ``PARTLY_VISIBLE``) may count either way. Mean and worst absolute error, in s and %.
- Annotation throughput: ``facestream annotate`` frames/s on hamilton_360p vs its
  own frame rate.
- ``find`` throughput: photos/s over ../shared/faces repeated ``--find-copies`` times.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2

from bench.scenes import SD, scenes
from bench.synth import CAST, SHARED, Scene, enrollment_photos, render

log = logging.getLogger("bench.reports")
ROOT = Path(__file__).resolve().parents[1]
# a face at least this visible may be on screen or not (MTCNN still finds faces ~35 % visible);
# from MIN_VISIBLE (60 %) on it must be
PARTLY_VISIBLE = 0.3


class Cli:
    """The `facestream` command in a subprocess, on one stack (the bench's own)."""

    def __init__(self, data_dir: Path, redis_url: str, milvus_uri: str):
        self.base = [
            sys.executable,
            "-m",
            "facestream",
            "--data-dir",
            str(data_dir),
            "--redis-url",
            redis_url,
            "--milvus-uri",
            milvus_uri,
        ]

    def __call__(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout, env=env
        )
        if done.returncode != 0:
            raise RuntimeError(f"facestream {args[0]} failed ({done.returncode}): {done.stderr}")
        return done


def enroll_gallery(cli: Cli, folder: Path) -> None:
    """The gallery minus the photos the scenes show, as ``enroll --dir`` takes it (links)."""
    for person, photos in enrollment_photos().items():
        (folder / person).mkdir(parents=True)
        for photo in photos:
            (folder / person / photo.name).symlink_to(photo)
    cli("enroll", "--dir", str(folder))


def render_scene(scene: Scene, path: Path, fps: float, size: tuple[int, int] = SD) -> dict:
    """Write the scene as a video; the ground truth per person: (seconds the face is visible,
    seconds it is at least partly visible)."""
    from bench.detections import Models

    sprites = Models().sprites()
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    visible: Counter[str] = Counter()
    partly: Counter[str] = Counter()
    try:
        for _, _, rgb, truth in render(scene, sprites, *size, fps):
            writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            visible.update(truth.ids)
            partly.update(n for n, v in truth.visible.items() if v >= PARTLY_VISIBLE)
    finally:
        writer.release()
    return {name: (visible[name] / fps, partly[name] / fps) for name in partly}


def screen_time_errors(truth: dict[str, tuple[float, float]], report: list[dict]) -> list[dict]:
    """Per enrolled person in the scene: true and reported seconds, and the error. A face that is
    only partly visible (between PARTLY_VISIBLE and MIN_VISIBLE of it, e.g. half behind another)
    may count or not: the error is the distance from the range [visible, partly visible]."""
    reported = {r["name"]: r["seconds"] for r in report if not r["unknown"]}
    rows = []
    for name, (seconds, at_most) in sorted(truth.items()):
        if not CAST[name][0] or seconds == 0:
            continue  # not enrolled: an unknown label, compared by nobody
        got = reported.get(name, 0.0)
        error = max(0.0, seconds - got, got - at_most)
        rows.append(
            {
                "person": name,
                "truth_s": round(seconds, 3),
                "partly_s": round(at_most, 3),
                "reported_s": round(got, 3),
                "error_s": round(error, 3),
                "error_pct": round(100 * error / seconds, 2),
                "error_vs_visible_pct": round(100 * abs(got - seconds) / seconds, 2),
            }
        )
    return rows


def scene_rows(cli: Cli, work: Path, names: list[str], fps: float, bridge_s: float) -> list[dict]:
    rows = []
    for scene in [s for s in scenes() if not names or s.name in names]:
        video = work / f"{scene.name}.mp4"
        truth = render_scene(scene, video, fps)
        results = work / f"{scene.name}.jsonl"
        cli("run", str(video), "--camera", scene.name, "--out", str(results))
        done = cli(
            "report", "screen-time", "--results", str(results), "--json",
            "--bridge-s", str(bridge_s),
        )  # fmt: skip
        for row in screen_time_errors(truth, json.loads(done.stdout)):
            rows.append({"scene": scene.name, **row})
            log.warning("screen time %s", rows[-1])
    return rows


def annotate_row(cli: Cli, work: Path) -> dict:
    clip = SHARED / "media" / "hamilton_360p.mp4"
    results = work / "hamilton.jsonl"
    cli("run", str(clip), "--camera", "hamilton-annotate", "--out", str(results))
    done = cli("annotate", str(clip), str(results), str(work / "annotated.mp4"))
    m = re.search(r"(\d+) frames at ([\d.]+) fps, (\d+) boxes \(([\d.]+) frames/s\)", done.stderr)
    if m is None:
        raise RuntimeError(f"annotate: no figures in {done.stderr!r}")
    frames, clip_fps, _boxes, rate = m.groups()
    return {
        "clip": clip.name,
        "frames": int(frames),
        "clip_fps": float(clip_fps),
        "annotate_fps": float(rate),
        "x_realtime": round(float(rate) / float(clip_fps), 2),
    }


def find_row(cli: Cli, work: Path, copies: int) -> dict:
    library = work / "library"
    photos = sorted(p for p in (SHARED / "faces").rglob("*") if p.is_file())
    for n in range(copies):
        for p in photos:
            target = library / f"copy{n}" / p.relative_to(SHARED / "faces")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(p)
    done = cli("find", "obama", str(library), "--json")
    m = re.search(r"(\d+) of (\d+) photo\(s\).*?([\d.]+) photos/s", done.stderr)
    if m is None:
        raise RuntimeError(f"find: no figures in {done.stderr!r}")
    return {
        "photos": int(m.group(2)),
        "found": int(m.group(1)),
        "photos_per_s": float(m.group(3)),
    }


def summary(rows: list[dict]) -> dict:
    if not rows:
        return {}
    return {
        "people": len(rows),
        "mean_error_s": round(sum(r["error_s"] for r in rows) / len(rows), 3),
        "worst_error_s": max(r["error_s"] for r in rows),
        "mean_error_pct": round(sum(r["error_pct"] for r in rows) / len(rows), 2),
        "worst_error_pct": max(r["error_pct"] for r in rows),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reports", description=__doc__)
    p.add_argument("--scenes", default="", help="comma list of scene names (default: all)")
    p.add_argument(
        "--fps",
        type=float,
        default=25.0,
        help="frame rate of the rendered scenes (a video's rate: at 10 fps one frame more or less "
        "where a face enters or leaves is already 2-3 %% of a scene)",
    )
    p.add_argument("--work-dir", type=Path, help="keep the videos and results here")
    p.add_argument("--bridge-s", type=float, default=0.5)
    p.add_argument("--find-copies", type=int, default=12, help="../shared/faces repeated N times")
    p.add_argument("--parts", default="screen-time,annotate,find")
    p.add_argument("--out", type=Path, default=Path("bench-reports.json"))
    args = p.parse_args(argv)
    from config.settings import Settings
    from facestream.stack import EmbeddedStack

    parts = {x.strip() for x in args.parts.split(",")}
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="facestream-bench-reports-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        settings = Settings(data_dir=work / "data", redis_url=None, milvus_uri=None)
        with EmbeddedStack(settings) as endpoints:
            cli = Cli(work / "data", endpoints.redis_url, endpoints.milvus_uri)
            enroll_gallery(cli, work / "gallery")
            if "screen-time" in parts:
                names = [s for s in args.scenes.split(",") if s]
                rows = scene_rows(cli, work, names, args.fps, args.bridge_s)
                results["screen_time"] = {"rows": rows, "summary": summary(rows)}
            if "annotate" in parts:
                results["annotate"] = annotate_row(cli, work)
            if "find" in parts:
                results["find"] = find_row(cli, work, args.find_copies)
    args.out.write_text(json.dumps(results, indent=2))
    print(table(results))
    return 0


def table(results: dict) -> str:
    lines = []
    st = results.get("screen_time")
    if st:
        lines.append(
            f"{'scene':<10} {'person':<16} {'visible s':>9} {'partly s':>9} {'report s':>9} "
            f"{'error':>14} {'vs visible':>10}"
        )
        for r in st["rows"]:
            lines.append(
                f"{r['scene']:<10} {r['person']:<16} {r['truth_s']:>9.2f} {r['partly_s']:>9.2f} "
                f"{r['reported_s']:>9.2f} {r['error_s']:>6.2f} s {r['error_pct']:>5.1f}% "
                f"{r['error_vs_visible_pct']:>9.1f}%"
            )
        s = st["summary"]
        if s:
            lines.append(
                f"screen time error over {s['people']} people: mean {s['mean_error_s']:.2f} s "
                f"({s['mean_error_pct']:.1f} %), worst {s['worst_error_s']:.2f} s "
                f"({s['worst_error_pct']:.1f} %)"
            )
    a = results.get("annotate")
    if a:
        lines.append(
            f"annotate {a['clip']}: {a['annotate_fps']:.0f} frames/s = {a['x_realtime']:.1f}x "
            f"its {a['clip_fps']:.2f} fps"
        )
    f = results.get("find")
    if f:
        lines.append(
            f"find: {f['photos']} photos at {f['photos_per_s']:.2f} photos/s ({f['found']} found)"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
