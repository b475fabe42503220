"""The `facestream` command line."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from config.errors import FacestreamError
from config.settings import load_settings

log = logging.getLogger("facestream")
# piped output (files, CI logs, tests) gets wide tables instead of names folded at 80 columns
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True, width=None if sys.stderr.isatty() else 160)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="facestream", description="Real-time face recognition for video.")
    p.add_argument("--data-dir", type=Path, help="where embedded state lives (default ./.facestream)")
    p.add_argument("--redis-url", help="use this Redis instead of the embedded one")
    p.add_argument("--milvus-uri", help="use this Milvus instead of the embedded milvus-lite")
    p.add_argument("--embedder", choices=["auto", "facenet", "dlib"], help="embedding model (default auto)")
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default), ERROR")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    e = sub.add_parser("enroll", help="enroll a person from photos, or a folder of people")
    e.add_argument("name", nargs="?", help="the person's name")
    e.add_argument("images", nargs="*", type=Path, help="photos of the person")
    e.add_argument("--dir", type=Path, help="folder with one sub-folder of photos per person")

    pe = sub.add_parser("people", help="list enrolled people; 'people rm NAME' removes one")
    pe.add_argument("action", nargs="?", choices=["rm"])
    pe.add_argument("name", nargs="?")

    i = sub.add_parser("identify", help="name every face in photos")
    i.add_argument("images", nargs="+", type=Path)
    i.add_argument("--json", action="store_true", help="one JSON object per face")

    r = sub.add_parser("run", help="run video sources through the pipeline")
    r.add_argument("sources", nargs="+", help="file paths, rtsp:// or http(s):// URLs, or webcam indexes")
    r.add_argument("--camera", action="append", help="camera name (repeat once per source)")
    r.add_argument("--out", type=Path, help="write every result record to this JSONL file")

    w = sub.add_parser("watch", help="print named tracks as they arrive")
    w.add_argument("--all", action="store_true", help="also print unnamed faces")
    w.add_argument("--from-start", action="store_true", help="replay the results stream from its start")

    wk = sub.add_parser("worker", help="run one worker process of a kind")
    wk.add_argument("kind", choices=["detect", "track", "embed", "match"])

    sub.add_parser("bench", help="benchmarks: facestream vs the naive loop (see 'facestream bench --help')",
                   add_help=False)

    m = sub.add_parser("models", help="model weights")
    m.add_argument("action", choices=["fetch", "where"])
    m.add_argument("model", choices=["facenet"])
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # the harness has its own options: hand them over untouched
        from bench.__main__ import main as bench_main

        return bench_main(argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper() if args.command != "worker" else "INFO",
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        settings = load_settings(data_dir=args.data_dir, redis_url=args.redis_url, milvus_uri=args.milvus_uri,
                                 embedder=args.embedder, device=args.device)
        from facestream import commands

        return getattr(commands, f"cmd_{args.command}")(args, settings)
    except FacestreamError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


__all__ = ["main", "build_parser", "out", "err", "Table", "json"]
