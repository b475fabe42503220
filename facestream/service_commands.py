"""CLI commands for a long-lived stack: up, down, scale, status, ingest, cameras. Printing happens here."""

from __future__ import annotations

import json
import logging
import socket
import time

from rich.table import Table

from config.cameras import check_name
from config.errors import ConfigError, StackError
from config.redact import redact_url
from config.settings import Settings, file_as_env, settings_env
from facestream import cameras as cams
from facestream.console import err, out
from facestream.services import Services
from facestream.stack import EmbeddedStack
from facestream.stopping import StopRequest
from facestream.supervise import PROGRAMS, SCALABLE, Supervisor, parse_scale
from ingest.host import GrabberHost
from workers import health, keys, metrics
from workers.replies import text

log = logging.getLogger(__name__)
UP_WAIT_S = 300.0


def _attach(settings: Settings) -> EmbeddedStack:
    """Servers that already run (embedded ones recorded in the data dir, or the configured URLs)."""
    return EmbeddedStack(settings, start_servers=False)


def advertised(host: str, port: int | None) -> str | None:
    if port is None:
        return None
    return f"{socket.gethostname() if host in ('0.0.0.0', '::', '') else host}:{port}"


def cmd_up(args, settings: Settings) -> int:
    sup = Supervisor(settings)
    counts = sup.counts() or {k: 1 for k in PROGRAMS}
    for kind, value in (
        ("detect", args.detectors),
        ("embed", args.embedders),
        ("match", args.matchers),
    ):
        if value is not None:
            if value < 1:
                raise ConfigError(f"--{kind}ers: expected at least 1, got {value}")
            counts[kind] = value
    stack = EmbeddedStack(settings)
    endpoints = stack.start()
    stack.detach()  # the servers outlive this command; `facestream down` stops them
    env = settings_env(settings)
    env.update(
        FACESTREAM_REDIS_URL=endpoints.redis_url,
        FACESTREAM_MILVUS_URI=endpoints.milvus_uri,
        FACESTREAM_DATA_DIR=str(sup.data_dir),
    )
    if settings.torch_threads == 0:  # several model processes share the machine: one thread each
        env["FACESTREAM_TORCH_THREADS"] = "1"
    sup.write(counts, env)
    if sup.running():
        changed = sup.update()
        err.print(
            f"stack already up; applied: {', '.join(changed) or 'no change'}", highlight=False
        )
    else:
        sup.start()
        err.print(
            f"supervisord started ({sup.conf}); logs in {sup.data_dir / 'logs'}", highlight=False
        )
    client = Services(settings, endpoints).redis
    _wait_healthy(client, counts, args.wait_s)
    out.print(
        f"up: {', '.join(f'{k} x{counts.get(k, 1)}' for k in PROGRAMS)}; Redis {redact_url(endpoints.redis_url)}, "
        f"Milvus {redact_url(endpoints.milvus_uri)}",
        highlight=False,
    )
    return 0


def _wait_healthy(client, counts: dict[str, int], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    with err.status("waiting for the workers' health keys...") as spinner:
        while True:
            missing = {}
            for kind in (*SCALABLE, "track"):
                alive = len(health.alive(client, kind))
                if alive < counts.get(kind, 1):
                    missing[kind] = f"{alive}/{counts.get(kind, 1)}"
            if not missing:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"workers not healthy after {wait_s:.0f} s: {missing} alive; "
                    "see `facestream status` and the logs under <data-dir>/logs"
                )
            spinner.update(f"waiting for workers: {missing} alive")
            time.sleep(0.5)


def cmd_down(args, settings: Settings) -> int:
    sup = Supervisor(settings)
    with err.status("stopping workers (they finish their current batch)..."):
        was_up = sup.shutdown()
    stopped = [] if args.keep_servers else EmbeddedStack(settings).stop_recorded()
    out.print(
        ("workers stopped" if was_up else "no supervisord was running")
        + (f"; stopped embedded {', '.join(stopped)}" if stopped else ""),
        highlight=False,
    )
    return 0


def cmd_scale(args, settings: Settings) -> int:
    sup = Supervisor(settings)
    if not sup.running():
        raise StackError(f"no stack is up for {sup.data_dir}: run `facestream up` first")
    counts = {**{k: 1 for k in PROGRAMS}, **sup.counts(), **parse_scale(args.counts)}
    env = json.loads(sup.settings_file.read_text())
    sup.write(counts, file_as_env(env))
    changed = sup.update()
    with _attach(settings) as endpoints:
        _wait_healthy(Services(settings, endpoints).redis, counts, args.wait_s)
    out.print(
        f"scaled: {', '.join(f'{k} x{counts[k]}' for k in changed) or 'no change'}", highlight=False
    )
    return 0


def cmd_status(args, settings: Settings) -> int:
    from facestream.status import gather, render

    processes = Supervisor(settings).processes()
    with _attach(settings) as endpoints:
        snapshot = gather(Services(settings, endpoints).redis, processes)
    if args.json:
        print(json.dumps(snapshot, default=str))
    else:
        out.print(render(snapshot))
    return 0


def cmd_ingest(args, settings: Settings) -> int:
    check_name(args.camera)
    endpoint = advertised(
        settings.metrics_host, metrics.serve(settings.metrics_host, settings.metrics_port)
    )
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints)
        host = GrabberHost(services.redis, services.bus, settings, endpoint)
        with host, StopRequest() as request:
            hosted = host.start(args.camera, args.source)
            request.wait(float("inf"), until=lambda: not hosted.alive())
            if request.requested:
                err.print(
                    f"camera {args.camera}: stopping (Ctrl-C again to abort)", highlight=False
                )
            host.stop_all()
        if hosted.error is not None:
            raise hosted.error
    published = hosted.grabber.stats.published
    err.print(f"camera {args.camera}: {published} frames published", highlight=False)
    return 0


def cmd_cameras(args, settings: Settings) -> int:
    if args.action == "serve":
        return _serve_cameras(settings)
    with _attach(settings) as endpoints:
        client = Services(settings, endpoints).redis
        if args.action == "add":
            if not args.name or not args.url:
                raise ConfigError("cameras add: expected NAME URL")
            from workers.gallery.collections import Collections

            # bound first: the grabber may start as soon as the camera is in the hash
            Collections(client).bind_camera(args.name, args.camera_collection or args.collection)
            cams.add(client, args.name, args.url, settings.data_dir)
            out.print(f"added camera {args.name}: {redact_url(args.url)}", highlight=False)
        elif args.action == "rm":
            if not args.name:
                raise ConfigError("cameras rm: expected NAME")
            if not cams.remove(client, args.name):
                err.print(f"[red]no such camera:[/red] {args.name}", highlight=False)
                return 1
            out.print(f"removed camera {args.name}", highlight=False)
        else:
            table = Table(title="Cameras on this stack")
            for column in ("camera", "source", "state"):
                table.add_column(column)
            for name, url in sorted(cams.sources(client).items()):
                state = client.hget(keys.camera_info(name), "state")
                table.add_row(name, redact_url(url), text(state) if state else "starting")
            out.print(table)
    return 0


def _serve_cameras(settings: Settings) -> int:
    endpoint = advertised(
        settings.metrics_host, metrics.serve(settings.metrics_host, settings.metrics_port)
    )
    with EmbeddedStack(settings) as endpoints:
        services = Services(settings, endpoints)
        host = GrabberHost(services.redis, services.bus, settings, endpoint)
        with host, StopRequest() as request:
            cams.CameraManager(host).run(request)
    return 0
