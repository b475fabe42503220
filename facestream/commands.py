"""One function per CLI command: (args, settings) -> exit code. Printing happens here."""

from __future__ import annotations

import time
from pathlib import Path

import msgpack

from config.errors import ConfigError, StackError
from config.redact import redact_url
from config.settings import Settings
from facestream.console import err, esc, out
from facestream.services import Services
from facestream.stack import EmbeddedStack
from facestream.stopping import StopRequest

# `run` exit status when it stopped (Ctrl-C, SIGTERM, stop_timeout_s) with frames of a source
# neither processed nor dropped; 0 success, 1 a health check failed, 2 an error, 130 an abort
EXIT_UNACCOUNTED = 3


def _cameras(args, settings: Settings) -> list:
    """The cameras of a run: ``--config cameras.toml``, or the sources on the command line (named by --camera)."""
    from config.cameras import CameraConfig, CameraPolicy, check_name, load_cameras
    from ingest.sources import is_live

    if args.config:
        if args.sources or args.camera:
            raise ConfigError("run: give either SOURCE... or --config FILE, not both")
        cameras = load_cameras(args.config, settings)
    else:
        if not args.sources:
            raise ConfigError("run: expected SOURCE... or --config FILE")
        names = args.camera
        if names and len(names) != len(args.sources):
            raise ConfigError(
                f"--camera: expected one name per source ({len(args.sources)}), got {len(names)}"
            )
        if not names:
            names, seen = [], set()
            for i, src in enumerate(args.sources):
                base = Path(src).stem if "://" not in src and not src.isdigit() else f"cam{i}"
                names.append(base if base not in seen else f"{base}-{i}")
                seen.add(names[-1])
        cameras = [
            CameraConfig(name=check_name(n), url=u, policy=CameraPolicy().resolved(settings.live))
            for n, u in zip(names, args.sources, strict=True)
        ]
    if len({c.name for c in cameras}) != len(cameras):
        raise ConfigError(f"camera names: expected unique names, got {[c.name for c in cameras]}")
    for cam in cameras:  # fail before starting servers and workers, not after
        live = cam.policy.live if cam.policy.live is not None else is_live(cam.url)
        if "://" not in cam.url and not live and not Path(cam.url).is_file():
            what = "is a directory, not a video file" if Path(cam.url).is_dir() else "no such file"
            raise ConfigError(f"source {cam.url!r}: {what}")
    return cameras


def _bind_cameras(services: Services, cameras: list, collection: str) -> None:
    """The matcher searches each camera's collection: the run's cameras watch with this one."""
    from workers.gallery.collections import Collections

    registry = Collections(services.redis)
    for cam in cameras:
        registry.bind_camera(cam.name, collection)


def cmd_run(args, settings: Settings) -> int:
    from facestream.gallery_ops import other_model_only
    from facestream.report import summary_table
    from facestream.reports.commands import annotate_run, check_run_annotate, run_results
    from facestream.runner import run_sources
    from workers.models.device import resolve_device
    from workers.models.loader import embedder_name

    cameras = _cameras(args, settings)
    check_run_annotate(args, cameras)
    # a server that died and was restarted is said above the progress bar, not as a log line
    # milvus_later: the workers start while milvus-lite comes up (run_sources waits for it)
    stack = EmbeddedStack(settings, notify=_say_yellow, milvus_later=True)
    with stack as endpoints, run_results(args, settings) as results:
        services = Services(settings, endpoints, args.collection)
        model = embedder_name(settings, resolve_device(settings.device))
        problem = other_model_only(services.people, model)
        if problem:
            raise ConfigError(problem)
        _bind_cameras(services, cameras, args.collection)
        result = run_sources(services, settings, cameras, results, err, stack.wait_milvus)
        annotate_run(args, cameras[0], results)
    missing = 0
    for camera, counts in result.cameras.items():
        total = "?" if counts.total is None else counts.total
        err.print(
            f"{camera}: {counts.done}/{total} frames accounted for"
            + (f", dropped {counts.dropped}" if counts.dropped else ""),
            highlight=False,
        )
        missing += counts.missing
        declared = result.declared.get(camera)
        if declared and counts.total is not None and counts.total < declared:
            err.print(
                f"[yellow]{camera}: warning:[/yellow] the container declares {declared} "
                f"frames, only {counts.total} could be read (a truncated or damaged file?)",
                highlight=False,
            )
        skipped = {reason: n for reason, n in counts.skipped.items() if n}
        if skipped:
            err.print(
                f"{camera}: live frames never published (newest kept): {skipped}", highlight=False
            )
    for problem in result.problems:  # names may be missing from the summary below
        err.print(f"[yellow]during the run:[/yellow] {esc(problem)}", highlight=False)
    rows = result.seen.rows(result.fps)
    if rows:
        out.print(summary_table(rows))
    else:
        out.print("nobody enrolled was seen")
    if args.out:
        err.print(f"{result.seen.records} records written to {esc(args.out)}", highlight=False)
    if missing:
        err.print(
            f"[red]{missing} frame(s) not accounted for[/red] (stopped before they were "
            f"processed): exit status {EXIT_UNACCOUNTED}",
            highlight=False,
        )
        return EXIT_UNACCOUNTED
    return 0


def _say_yellow(line: str) -> None:
    err.print(f"[yellow]{esc(line)}[/yellow]", highlight=False)


def cmd_watch(args, settings: Settings) -> int:
    from workers import result_streams
    from workers.bus import FIELD

    with EmbeddedStack(settings) as endpoints:
        client = Services(settings, endpoints, args.collection).redis
        position = (
            result_streams.Position.at("0-0") if args.from_start else result_streams.newest(client)
        )
        err.print(
            f"watching {', '.join(result_streams.streams())} on "
            f"{esc(redact_url(endpoints.redis_url))} (Ctrl-C to stop)",
            highlight=False,
        )
        with StopRequest() as request:  # a blocking read ends within a second of a stop request
            while not request.requested:
                for entry in result_streams.read(client, position, 100, block_ms=1000):
                    position.passed(entry)
                    _print_record(msgpack.unpackb(entry[2][FIELD], raw=False), args.all)
    return 0


def _print_record(rec: dict, unnamed: bool) -> None:
    if "event" in rec:
        out.print(
            f"{rec['camera']} {rec['ts']:>10} {rec['event']:<10} {rec['track_id']} "
            f"{rec['name'] or ''}",
            highlight=False,
        )
    elif rec.get("name") or unnamed:
        out.print(
            f"{rec['camera']} {rec['ts']:>10} frame {rec['frame']:<6} {rec['track_id']} "
            f"{rec['name'] or 'unknown'} {rec['score']:.3f} {rec['bbox']}",
            highlight=False,
        )


def cmd_worker(args, settings: Settings) -> int:
    from facestream.services import run_worker

    if args.check:
        from facestream.services import connect_redis
        from workers import health

        try:
            with EmbeddedStack(settings, start_servers=False) as endpoints:
                ok, why = health.check(
                    connect_redis(
                        endpoints.redis_url, settings.redis_tls_ca_file, settings.redis_cluster
                    ),
                    args.kind,
                    any_host=args.any_host,
                )
        except StackError as exc:
            ok, why = False, str(exc)
        (out if ok else err).print(why, highlight=False)
        return 0 if ok else 1
    if args.kind == "ingest":
        raise ConfigError(
            "worker ingest: grabbers run with `facestream ingest SOURCE --camera NAME` or "
            "`facestream cameras serve`; `worker ingest` is for --check only"
        )
    with EmbeddedStack(settings) as endpoints:
        if args.kind == "index":
            from facestream.indexing.worker import run_index_worker

            run_index_worker(settings, endpoints)
        else:
            run_worker(args.kind, settings, endpoints)
    return 0


def cmd_models(args, settings: Settings) -> int:
    from workers.models import facenet_embedder as fe

    started = time.monotonic()
    if args.action == "where":
        names = fe.FACENET if args.model == "facenet" else (args.model,)
        found = 0
        for name in names:
            hit = fe.find_weights(settings.facenet_weights, name)
            if hit is not None and hit[0] == name:
                found += 1
                out.print(f"{name}: {hit[1]}", highlight=False)
            else:
                out.print(
                    f"{name}: not found (expected at {fe.hub_weights_path(name)})", highlight=False
                )
        return 0 if found else 1
    if args.action == "install":
        if args.model == "facenet-vggface2":
            raise ConfigError(
                "models install: only facenet-casia converts offline; "
                "facenet-vggface2 downloads with `facestream models fetch facenet`"
            )
        from workers.models.facenet_convert import install

        path, worst = install(fe.hub_weights_path("facenet-casia"))
        out.print(
            f"facenet-casia weights converted and checked (max difference {worst:.1e} "
            f"from the reference) in {time.monotonic() - started:.0f} s: {path}",
            highlight=False,
        )
        return 0
    if args.model == "facenet-casia":
        raise ConfigError(
            "models fetch: facenet-casia is converted offline with "
            "`facestream models install facenet`; fetch downloads facenet-vggface2"
        )
    path = fe.fetch_weights()
    out.print(f"facenet-vggface2 weights saved to {path} in {time.monotonic() - started:.0f} s")
    return 0
