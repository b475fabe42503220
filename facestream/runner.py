"""`facestream run`: ingest sources, follow their progress, collect their results.

A file run ends once every frame is accounted for (done by the matcher, or
dropped with a counted reason) and its end-of-stream has gone through; a live
run ends on Ctrl-C or SIGTERM, after the frames in flight have finished (for at
most ``stop_timeout_s``; what was left is reported). A second signal aborts.
Worker processes that die are restarted; a Redis that goes away is waited for
(with backoff). Signals: facestream/stopping.py.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import msgpack
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config.cameras import CameraConfig
from config.errors import FacestreamError
from config.settings import Settings
from facestream.console import esc
from facestream.processes import WorkerProcesses
from facestream.report import Sightings
from facestream.services import WORKER_KINDS, Services
from facestream.stopping import StopRequest
from ingest.host import GrabberHost, GrabberThread
from workers import health, keys, result_streams
from workers.backoff import REDIS_DOWN, Backoff
from workers.bus import FIELD
from workers.progress import Counts, RunProgress

log = logging.getLogger(__name__)
OUTAGE_STOP_S = 5.0  # how long workers get to stop after a run stopped during a Redis outage


@dataclass
class RunResult:
    seen: Sightings = field(default_factory=Sightings)  # the summary, folded in record by record
    cameras: dict[str, Counts] = field(default_factory=dict)  # camera -> its run's progress ledger
    fps: dict[str, float] = field(default_factory=dict)
    # camera -> the frame count its file's container declares (read to the end, not stopped)
    declared: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # what the workers could not reach meanwhile


class ResultsReader:
    """Follows the results streams from where they are now: the records of some cameras go to ``out`` (a JSON line each)
    and into the run's summary; none is kept in memory (a live run may last for months)."""

    def __init__(self, services: Services, cameras: set[str], out: IO[str] | None):
        self.redis = services.redis
        self.cameras = cameras
        # the runs this command started (set once its grabbers have them): records of an earlier
        # run of the same camera (a killed `run`'s tracks ended by this one) are not this run's
        self.runs: set[str] = set()
        self.out = out
        self.position = result_streams.newest(self.redis)
        self.seen = Sightings()

    def poll(self, block_ms: int = 200) -> int:
        n = 0
        for entry in result_streams.read(self.redis, self.position, 1000, block_ms):
            self.position.passed(entry)
            try:
                record = msgpack.unpackb(entry[2][FIELD], raw=False)
            except (KeyError, ValueError, msgpack.ExtraData) as exc:
                log.warning("skipping unreadable result %s: %s", entry[1], exc)
                continue
            if record.get("camera") in self.cameras and record.get("run") in self.runs:
                self.seen.add(record)
                if self.out is not None:
                    self.out.write(json.dumps(record) + "\n")
                n += 1
        return n


def run_sources(
    services: Services,
    settings: Settings,
    cameras: list[CameraConfig],
    out_path: Path | None = None,
    console: Console | None = None,
    servers_ready: Callable[[], None] = lambda: None,
) -> RunResult:
    """Run the cameras to their end (or a stop). ``servers_ready`` returns once every server
    answers: the workers start before it, so that their start-up overlaps the servers'."""
    console = console or Console(stderr=True)
    client = services.redis
    workers = WorkerProcesses(settings, services.endpoints)
    started = workers.start_missing(client, WORKER_KINDS)
    if started:
        console.print(
            f"started workers: {', '.join(started)} (logs in {Path(settings.data_dir) / 'logs'})"
        )
    try:
        servers_ready()
    except BaseException:
        workers.stop()
        raise
    stop = threading.Event()
    watch = ProblemWatch()
    out = open(out_path, "w", encoding="utf-8") if out_path else None
    reader = ResultsReader(services, {c.name for c in cameras}, out)
    last: dict[str, Counts] = {}  # camera -> its ledger as last read (Redis may be away at the end)
    outage = False  # stopped while Redis was away: the workers are not waited for long
    try:
        with GrabberHost(client, services.bus, settings) as host:
            runs = [host.start(c.name, c.url, policy=c.policy, stop=stop) for c in cameras]
            reader.runs = {cam.grabber.stats.run for cam in runs}
            with StopRequest() as request:
                outage = _follow(
                    runs,
                    reader,
                    workers,
                    console,
                    client,
                    stop,
                    request,
                    settings.worker.stop_timeout_s,
                    watch,
                    last,
                )
        result = RunResult(seen=reader.seen, problems=sorted(watch.ever))
        for cam in runs:
            try:
                result.cameras[cam.camera] = _progress(client, cam).read()
                info = client.hmget(keys.camera_info(cam.camera), ["fps", "expected_frames"])
            except REDIS_DOWN:
                # stopped during an outage: the ledger as last read, and no wait for Redis
                result.cameras[cam.camera] = last.get(cam.camera) or Counts(
                    published=cam.grabber.stats.published, total=cam.grabber.stats.total
                )
                result.problems.append(
                    f"Redis unreachable when the run stopped: {cam.camera}'s counts as last read"
                )
                info = [None, None]
            result.fps[cam.camera] = float(info[0]) if info[0] else 25.0
            if not stop.is_set() and not cam.grabber.live and info[1]:
                result.declared[cam.camera] = int(info[1])
        return result
    finally:
        stop.set()
        if out is not None:
            out.close()
        if outage:  # a worker that lost Redis is slow to exit, and has nothing left to commit
            workers.stop(OUTAGE_STOP_S)
        else:
            workers.stop()


def _progress(client, cam: GrabberThread) -> RunProgress:
    return RunProgress(client, cam.camera, cam.grabber.stats.run)


def _follow(
    runs: list[GrabberThread],
    reader: ResultsReader,
    workers: WorkerProcesses,
    console: Console,
    client,
    stop: threading.Event,
    request: StopRequest,
    stop_timeout_s: float,
    watch: ProblemWatch | None = None,
    last: dict[str, Counts] | None = None,
) -> bool:
    """Follow the runs until they end or a stop; True when it stopped with Redis unreachable."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks = {cam.camera: progress.add_task(cam.camera, total=None, info="") for cam in runs}
        pending = list(runs)
        backoff = Backoff(0.2, 5.0)
        give_up_at = float("inf")
        watch = watch or ProblemWatch()
        last = {} if last is None else last
        redis_down = False
        while pending:
            if request.requested and redis_down:
                # nothing in flight can finish without Redis: waiting would only delay the exit
                progress.console.print(
                    "stopping: Redis unreachable, the frames in flight are given up"
                )
                stop.set()
                return True
            if request.requested and not stop.is_set():
                progress.console.print(
                    "stopping: finishing the frames in flight (Ctrl-C again to abort)"
                )
                stop.set()
                give_up_at = time.monotonic() + stop_timeout_s
            if time.monotonic() > give_up_at:
                progress.console.print(
                    f"[yellow]stopped waiting after {stop_timeout_s:.0f} s:[/yellow] "
                    + "; ".join(_unfinished(cam, client) for cam in pending)
                )
                break
            try:
                reader.poll()
                workers.check(client)
                watch.poll(client, progress.console)
                for cam in list(pending):
                    if cam.error is not None:
                        raise FacestreamError(f"camera {cam.camera}: {cam.error}") from cam.error
                    if _update(cam, client, reader, progress, tasks[cam.camera], last):
                        pending.remove(cam)
                backoff.reset()
                if redis_down:
                    progress.console.print("Redis answers again")
                redis_down = False
            except REDIS_DOWN as exc:
                delay = backoff.next_delay()
                log.log(
                    logging.INFO if redis_down else logging.WARNING,
                    "Redis unreachable (%s): retrying in %.1f s",
                    exc,
                    delay,
                )
                if not redis_down:  # once per outage; the embedded one is restarted meanwhile
                    progress.console.print("Redis unreachable: retrying (Ctrl-C to stop)")
                redis_down = True
                request.wait(delay)
        try:
            reader.poll(block_ms=50)  # records published together with the last 'finished' flag
        except REDIS_DOWN:
            log.warning("Redis unreachable: the last records of the run could not be read")
            return True
    return False


class ProblemWatch:
    """Says, once per change, what the workers report they cannot reach (Milvus unreachable)."""

    def __init__(self, every_s: float = 1.0):
        self.every_s = every_s
        self.shown: list[str] = []
        self.ever: set[str] = set()  # for the run's summary: names may be missing because of these
        self._next = 0.0

    def poll(self, client, console: Console) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every_s
        now = health.problems(client)
        for problem in now:
            if problem not in self.shown:
                console.print(f"[yellow]{esc(problem)}[/yellow]")
        for problem in self.shown:
            if problem not in now:
                console.print(f"resolved: {esc(problem)}")
        self.shown = now
        self.ever.update(now)


def _unfinished(cam: GrabberThread, client) -> str:
    """What one camera still had in flight when `run` stopped waiting for it."""
    stats = cam.grabber.stats
    if stats.total is None:
        return f"{cam.camera}: its grabber had not finished ({stats.published} frames published)"
    try:
        done = _progress(client, cam).done()
    except REDIS_DOWN:
        return f"{cam.camera}: Redis unreachable"
    return f"{cam.camera}: {max(stats.total - done, 0)} of {stats.total} frames not accounted for"


def _update(
    cam: GrabberThread,
    client,
    reader: ResultsReader,
    progress: Progress,
    task,
    last: dict[str, Counts] | None = None,
) -> bool:
    """Refresh one camera's progress line; True once its run is finished."""
    stats = cam.grabber.stats
    counts = _progress(client, cam).read()
    if last is not None:
        last[cam.camera] = counts
    dropped = sum(counts.dropped.values())
    total = stats.total or int(client.hget(keys.camera_info(cam.camera), "expected_frames") or 0)
    info = f"{reader.seen.records} records" + (f", {dropped} dropped" if dropped else "")
    if cam.grabber.live:
        state = client.hget(keys.camera_info(cam.camera), "state")
        info += f", {state.decode() if state else '?'}"
    progress.update(task, completed=counts.done, total=total or None, info=info)
    return stats.total is not None and counts.done >= stats.total and counts.finished
