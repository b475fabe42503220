"""``facestream-bench`` (or ``python -m bench``): facestream against the naive loop and
face_recognition, plus scaling rows.

Prints a short table and writes every figure to a JSON file (``--out``). See the
README's "Benchmarks" section for what each column means.
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2

from bench import baselines, report

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SECTIONS = (
    "levers",
    "stages",
    "facestream",
    "naive",
    "face_recognition",
    "live",
    "detectors",
    "gallery",
)
# on request only, each its own module (python -m bench.calibrate, bench.embedders, bench.indexing,
# bench.footprint: memory and start time of `facestream run`, bench.reports)
EMBEDDER_SECTIONS = ("calibrate", "embedders", "footprint", "indexing", "reports")
# the tuned configuration; the full-rate row shows what each frame costs without the levers
FULL_RATE = {"detect.every_n": 1}
# one lever at a time on top of the full-rate settings, then all together (the "levers" section)
LEVERS = {
    "full-rate": {},
    "detect every 2nd": {"detect.every_n": 2},
    "detect every 3rd": {"detect.every_n": 3},
    "detect every 4th": {"detect.every_n": 4},
    "min face 40 px": {"detect.min_face_px": 40},
    "detect max side 640": {"detect.max_side_px": 640},
    "jpeg quality 75": {"jpeg_quality": 75},
    "embed every face (no best shots)": {"embed.every_n": 1},
    "best shots, refresh every 5 s": {"embed.refresh_s": 5.0},
    "all: every 4th + min face 40 + refresh 5 s": {
        "detect.every_n": 4,
        "detect.min_face_px": 40,
        "embed.refresh_s": 5.0,
    },
}
log = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    # the `facestream-bench` console script, or `python -m bench` in a checkout
    prog = "facestream-bench" if Path(sys.argv[0]).name == "facestream-bench" else "python -m bench"
    p = argparse.ArgumentParser(prog=prog, description=__doc__)
    p.add_argument(
        "clips", nargs="*", type=Path, help="videos (default: ../shared/media hamilton and crowd)"
    )
    p.add_argument("--gallery-dir", type=Path, default=SHARED / "faces" / "gallery")
    p.add_argument(
        "--sections", default=",".join(SECTIONS), help=f"comma list of {', '.join(SECTIONS)}"
    )
    p.add_argument("--out", type=Path, default=Path("bench-results.json"))
    p.add_argument(
        "--max-frames", type=int, default=0, help="use only the first N frames of each clip"
    )
    p.add_argument(
        "--detectors", default="1,2,4", help="detector process counts for the scaling rows"
    )
    p.add_argument("--gallery-sizes", default="1000,100000,1000000")
    p.add_argument(
        "--insert-budget-s", type=float, default=240.0, help="per gallery size, for milvus-lite"
    )
    p.add_argument(
        "--levers",
        default=";".join(LEVERS),
        help="which rows of the levers section (names, ';' list)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a facestream setting for the facestream rows (repeatable), e.g. detect.every_n=3",
    )
    p.add_argument(
        "--skip-full-rate", action="store_true", help="no full-rate rows (stages, facestream)"
    )
    p.add_argument(
        "--data-dir", type=Path, help="embedded stack state (default: a temporary folder)"
    )
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


def machine() -> dict:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_avg_at_start": os.getloadavg(),
        "summary": f"{model}, {os.cpu_count()} cores, {mem_gb:.0f} GB RAM, "
        f"{gpu or 'no GPU'}, load average at start {os.getloadavg()[0]:.2f}",
    }


def truncated(clip: Path, max_frames: int, tmp: Path) -> Path:
    if not max_frames:
        return clip
    cap = cv2.VideoCapture(str(clip))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    size = (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    out_path = tmp / clip.name
    writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for _ in range(max_frames):
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(frame)
    writer.release()
    cap.release()
    return out_path


def in_child(fn, *args):
    """Run a baseline in a fresh process: its CPU and peak RSS are its own."""
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(fn, args)


def ratios(rows: list[dict]) -> list[str]:
    out = []
    for clip in sorted({r["clip"] for r in rows}):
        fs = [
            r
            for r in rows
            if r["clip"] == clip
            and r["system"] == "facestream"
            and r.get("mode") == "file"
            and r.get("label") == "tuned"
        ]
        for other in ("naive", "face_recognition"):
            ref = [r for r in rows if r["clip"] == clip and r["system"] == other]
            if fs and ref and ref[0]["fps"]:
                fps = fs[0]["steady_fps"] or fs[0]["fps"]
                cpu = ref[0]["cpu_s_per_frame"] / max(fs[0]["cpu_s_per_frame"], 1e-9)
                out.append(
                    f"{clip}: facestream {fps:.1f} fps = {fps / ref[0]['fps']:.1f}x {other} "
                    f"({ref[0]['fps']:.1f} fps); CPU per frame {cpu:.1f}x less"
                )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from config.settings import load_settings
    from facestream.engine import FaceEngine
    from facestream.gallery_ops import EnrollReport, enroll, photos_by_person
    from facestream.services import Services
    from facestream.stack import EmbeddedStack

    sections = {s.strip() for s in args.sections.split(",") if s.strip()}
    unknown = sections - set(SECTIONS) - set(EMBEDDER_SECTIONS)
    if unknown:
        print(
            f"unknown sections: {sorted(unknown)}; expected some of {SECTIONS + EMBEDDER_SECTIONS}",
            file=sys.stderr,
        )
        return 2
    for name in EMBEDDER_SECTIONS:
        if name in sections:
            __import__(f"bench.{name}", fromlist=["main"]).main([])
    sections -= set(EMBEDDER_SECTIONS)
    if not sections:
        return 0
    overrides = dict(kv.split("=", 1) for kv in args.set)
    clips = args.clips or [
        SHARED / "media" / "hamilton_360p.mp4",
        SHARED / "media" / "crowd_1080p.mp4",
    ]
    results: dict = {
        "machine": machine(),
        "started": time.time(),
        "argv": sys.argv[1:],
        "systems": [],
        "stages": [],
        "gallery": [],
    }
    with tempfile.TemporaryDirectory(prefix="facestream-bench-") as tmp_name:
        tmp = Path(tmp_name)
        data_dir = args.data_dir or tmp / "data"
        base = load_settings(data_dir=data_dir, redis_url=None, milvus_uri=None, embedder="dlib")
        clips = [truncated(c, args.max_frames, tmp) for c in clips]
        with EmbeddedStack(base) as endpoints:
            services = Services(base, endpoints)
            engine = FaceEngine(base)
            enrolled = EnrollReport()
            for name, photos in photos_by_person(args.gallery_dir).items():
                enroll(
                    engine,
                    services.people,
                    services.index(engine.embedder.name),
                    name,
                    photos,
                    enrolled,
                )
            del engine
            tuned = load_settings(**{**base.model_dump(), **overrides})
            full = load_settings(**{**base.model_dump(), **overrides, **FULL_RATE})
            _run_sections(args, sections, clips, services, tuned, full, results, tmp)
    results["ratios"] = ratios(results["systems"])
    results["finished"] = time.time()
    args.out.write_text(json.dumps(results, indent=2, default=str))
    print(report.table(results))
    print(f"\nresults written to {args.out}")
    return 0


def _run_sections(args, sections, clips, services, tuned, full, results, tmp: Path) -> None:
    from bench.gallery import gallery_rows
    from bench.pipeline import run_facestream
    from bench.stages import stage_profile
    from config.settings import load_settings

    def save() -> None:  # after every row: a crash or a timeout later loses nothing measured
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2, default=str))

    def facestream_row(label, settings, clip, **kw):
        camera = f"{clip.stem}-{label}-{len(results['systems'])}"
        row = run_facestream(services, settings, clip, camera, tmp / "logs" / camera, **kw)
        row["label"] = label
        results["systems"].append(row)
        save()
        log.warning("%s", row)

    for clip in clips:
        if "levers" in sections:
            for label in [x.strip() for x in args.levers.split(";") if x.strip()]:
                lever = LEVERS[label]
                s = stage_profile(services, load_settings(**{**full.model_dump(), **lever}), clip)
                s["label"] = label
                results.setdefault("levers", []).append(s)
                save()
                log.warning("lever %s %s: %s", clip.name, label, s)
        if "stages" in sections:
            for label, settings in (("full-rate", full), ("tuned", tuned))[args.skip_full_rate :]:
                s = stage_profile(services, settings, clip)
                s["label"] = label
                results["stages"].append(s)
        if "facestream" in sections:
            if not args.skip_full_rate:
                facestream_row("full-rate", full, clip)
            facestream_row("tuned", tuned, clip)
        if "naive" in sections:
            results["systems"].append(in_child(baselines.naive_loop, clip, args.gallery_dir))
            save()
        if "face_recognition" in sections:
            if baselines.face_recognition_available():
                results["systems"].append(
                    in_child(baselines.face_recognition_loop, clip, args.gallery_dir)
                )
                save()
            else:
                results.setdefault("skipped", []).append(
                    "face_recognition: not installed (pip install 'facestream[bench]')"
                )
        if "live" in sections and clip.name.startswith("hamilton"):
            facestream_row("tuned", tuned, clip, paced=True)
    if "detectors" in sections:
        clip = clips[-1]  # the heaviest clip by default (crowd_1080p)
        for n in [int(x) for x in args.detectors.split(",") if x]:
            facestream_row("tuned", tuned, clip, detectors=n)
    if "gallery" in sections:
        sizes = [int(float(x)) for x in args.gallery_sizes.split(",") if x]
        results["gallery"] = gallery_rows(
            services.milvus, sizes, insert_budget_s=args.insert_budget_s
        )


if __name__ == "__main__":
    sys.exit(main())
