"""The report commands: `report screen-time`, `timeline`, `annotate` (parsers and handlers)."""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from config.errors import ConfigError
from config.settings import Settings
from facestream.console import err, esc, out
from facestream.reports import records as rec
from facestream.reports.screen_time import BRIDGE_S, screen_time


def _source_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        type=Path,
        action="append",
        metavar="FILE.jsonl",
        help="read these `run --out` files (repeatable) instead of the results stream",
    )
    p.add_argument("--camera", help="only this camera")
    p.add_argument("--run", help="only this run of a camera (the records' `run` field)")
    p.add_argument(
        "--bridge-s",
        type=float,
        default=BRIDGE_S,
        help=f"gaps shorter than this are one appearance (default {BRIDGE_S})",
    )


def add_parsers(sub) -> None:
    r = sub.add_parser("report", help="reports from results: report screen-time")
    which = r.add_subparsers(dest="report", required=True, metavar="REPORT")
    st = which.add_parser(
        "screen-time", help="seconds on screen per person and unknown label, per camera"
    )
    _source_options(st)
    fmt = st.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="a JSON array, one object per row")
    fmt.add_argument("--csv", action="store_true", help="CSV with a header line")
    st.add_argument("--plot", type=Path, metavar="FILE.png|.svg", help="save a bar chart")
    st.add_argument(
        "--timeline", action="store_true", help="with --plot: a Gantt chart of appearances"
    )
    st.set_defaults(func=cmd_screen_time)

    t = sub.add_parser("timeline", help="when a person appears: intervals per camera and run")
    t.add_argument("name", help="a person's name or an unknown-... label")
    _source_options(t)
    t.add_argument("--json", action="store_true", help="a JSON array of intervals")
    t.set_defaults(func=cmd_timeline)


def load(args, settings: Settings) -> list[dict]:
    """The face records a report reads: ``--results`` files, else the results stream."""
    if args.bridge_s < 0:
        raise ConfigError(f"--bridge-s: expected seconds >= 0, got {args.bridge_s}")
    # filtered while read: only the face records of the chosen camera and run are kept
    if args.results:
        files = (r for path in args.results for r in rec.read_jsonl(path))
        return rec.faces(files, args.camera, args.run)
    from facestream.indexing.unknown_review import name_records
    from facestream.services import Services
    from facestream.stack import EmbeddedStack
    from workers import keys
    from workers.gallery.collections import DEFAULT
    from workers.replies import text_map

    with EmbeddedStack(settings) as endpoints:
        client = Services(settings, endpoints).redis
        # the stream holds every collection's cameras: a report is of the --collection's only
        bound = text_map(client.hgetall(keys.CAMERA_COLLECTIONS))
        stream = (
            r
            for r in rec.read_stream(client)
            if bound.get(str(r.get("camera")), DEFAULT) == args.collection
        )
        return name_records(client, rec.faces(stream, args.camera, args.run))


def cmd_screen_time(args, settings: Settings) -> int:
    from facestream.reports import tables

    if args.timeline and not args.plot:
        raise ConfigError("--timeline: expected --plot FILE as well (it is a kind of chart)")
    rows = screen_time(load(args, settings), args.bridge_s)
    if args.plot:
        from facestream.reports.plots import save_chart

        save_chart(rows, args.plot, timeline=args.timeline)
        err.print(f"chart saved to {esc(args.plot)}", highlight=False)
    if args.json:
        print(tables.as_json(rows))
    elif args.csv:
        print(tables.as_csv(rows), end="")
    elif rows:
        out.print(tables.screen_time_table(rows))
    else:
        out.print("nobody was seen" + (f" on camera {esc(args.camera)}" if args.camera else ""))
    return 0


def cmd_timeline(args, settings: Settings) -> int:
    import json

    from facestream.reports import tables

    rows = [s for s in screen_time(load(args, settings), args.bridge_s) if s.name == args.name]
    found = tables.timeline_rows(rows)
    if args.json:
        print(json.dumps(found, indent=2))
    elif found:
        out.print(tables.timeline_table(args.name, found))
    else:
        out.print(f"{esc(args.name)} was not seen", highlight=False)
    return 0 if found else 1


def add_annotate_parser(sub) -> None:
    a = sub.add_parser(
        "annotate", help="draw saved results on their video: boxes, names, track ids (H.264 MP4)"
    )
    a.add_argument("video", type=Path)
    a.add_argument("results", type=Path, metavar="RESULTS.jsonl", help="a `run --out` file")
    a.add_argument("output", type=Path, metavar="OUT.mp4")
    a.add_argument("--camera", help="the camera whose records to draw (when the file has several)")
    a.add_argument("--run", help="the run whose records to draw (when the file has several)")
    a.set_defaults(func=cmd_annotate)


def annotate(video: Path, records: list[dict], output: Path) -> None:
    """Write the annotated video with a progress bar, and say what was written."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from facestream.reports.annotate import annotate_video

    with Progress(
        "annotating", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), console=err
    ) as bar:
        task = bar.add_task("annotate", total=None)
        stats = annotate_video(
            video,
            records,
            output,
            lambda done, total: bar.update(task, completed=done, total=total or None),
        )
    err.print(
        f"{esc(output)}: {stats.frames} frames at {stats.fps:.2f} fps, {stats.boxes} boxes "
        f"({stats.frames_per_s:.0f} frames/s)",
        highlight=False,
    )


def cmd_annotate(args, settings: Settings) -> int:
    if not args.video.is_file():
        raise ConfigError(f"video {args.video}: expected a video file, got no such file")
    records = rec.faces(rec.read_jsonl(args.results), args.camera, args.run)
    if not records:
        err.print(f"[yellow]no face records in {esc(args.results)}[/yellow]", highlight=False)
    annotate(args.video, records, args.output)
    return 0


def check_run_annotate(args, cameras: list) -> None:
    """`run --annotate`: one video file, checked before anything starts."""
    if args.annotate is None:
        return
    if len(cameras) != 1 or "://" in cameras[0].url or not Path(cameras[0].url).is_file():
        raise ConfigError(
            f"--annotate: expected one video file as the source, got {len(cameras)} source(s) "
            "or a stream"
        )
    if args.annotate.suffix.lower() != ".mp4":
        raise ConfigError(f"--annotate {args.annotate}: expected a file name ending in .mp4")


@contextmanager
def run_results(args, settings: Settings) -> Iterator[Path | None]:
    """Where `run` writes its records: ``--out``, or for ``--annotate`` alone a private file in the
    data dir that is removed afterwards (names and boxes are personal data)."""
    if args.out is not None or args.annotate is None:
        yield args.out
        return
    data_dir = Path(settings.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="annotate-", suffix=".jsonl", dir=data_dir)
    os.close(fd)
    try:
        yield Path(name)
    finally:
        Path(name).unlink(missing_ok=True)


def annotate_run(args, camera, results: Path | None) -> None:
    """After `run --annotate`: draw this run's records on its video."""
    if args.annotate is None or results is None:
        return
    annotate(Path(camera.url), rec.faces(rec.read_jsonl(results), camera.name), args.annotate)


def add_find_parser(sub) -> None:
    f = sub.add_parser("find", help="every photo in folders where an enrolled person appears")
    f.add_argument("name", help="an enrolled person")
    f.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="searched recursively")
    f.add_argument(
        "--min-score", type=float, help="only faces scoring at least this (cosine similarity)"
    )
    f.add_argument(
        "--copy-to", type=Path, metavar="DIR", help="copy the photos here, numbered in date order"
    )
    f.add_argument("--json", action="store_true", help="a JSON array of the photos")
    f.set_defaults(func=cmd_find)


def cmd_find(args, settings: Settings) -> int:
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from facestream.gallery_commands import existing_collection, searcher
    from facestream.gallery_ops import identify
    from facestream.reports.find import copy_found, files_under, find_person
    from facestream.services import Services
    from facestream.stack import EmbeddedStack

    missing = [str(d) for d in args.folders if not d.exists()]
    if missing:
        raise ConfigError(f"find: expected existing folders, got {missing}")
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints, args.collection)
        existing_collection(services)
        if services.people.find(args.name) is None:
            raise ConfigError(f"find: expected an enrolled person's name, got {args.name!r}")
        engine, index, threshold = searcher(services, settings)
        total = sum(1 for _ in files_under(args.folders))
        columns = (TextColumn("searching"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            task = bar.add_task("find", total=total)
            result = find_person(
                args.folders,
                lambda path: identify(
                    engine, services.people, index, threshold, settings.match.margin, path
                ),
                args.name,
                args.min_score,
                progress=lambda _path: bar.advance(task),
            )
    for path, why in result.skipped:
        what = why if str(path) in why else f"{path}: {why}"
        err.print(f"[yellow]skipped:[/yellow] {esc(what)}", highlight=False)
    if args.copy_to is not None and result.found:
        copies = copy_found(result.found, args.copy_to)
        err.print(f"{len(copies)} photo(s) copied to {esc(args.copy_to)}", highlight=False)
    if args.json:
        print(json.dumps([f.as_dict() for f in result.found], indent=2))
    else:
        for f in result.found:
            out.print(
                f"{f.taken:%Y-%m-%d %H:%M:%S} ({f.date_from})  {f.score:.3f}  {esc(f.path)}",
                highlight=False,
            )
    err.print(
        f"{esc(args.name)}: {len(result.found)} of {result.photos} photo(s), "
        f"{len(result.skipped)} file(s) skipped, {result.photos_per_s:.1f} photos/s",
        highlight=False,
    )
    return 0 if result.found else 1
