"""Worker processes started by `facestream run` for the kinds that nobody runs yet, kept alive."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from config.errors import FacestreamError
from config.settings import Settings, settings_env
from facestream.stack import Endpoints
from workers import health
from workers.backoff import Backoff

log = logging.getLogger(__name__)


def child_env(settings: Settings, endpoints: Endpoints) -> dict[str, str]:
    """The parent's settings as FACESTREAM_* variables, so children see what the CLI was given."""
    env = dict(os.environ)
    env.update(settings_env(settings))
    env["FACESTREAM_REDIS_URL"] = endpoints.redis_url
    env["FACESTREAM_MILVUS_URI"] = endpoints.milvus_uri
    env["FACESTREAM_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    return env


@dataclass
class _Proc:
    kind: str
    name: str
    log: Path
    popen: subprocess.Popen | None = None
    started: float = 0.0
    up: bool = False  # wrote a health key: it got past loading its models
    failed_starts: int = 0  # deaths in a row before ever being up
    restart_at: float | None = None
    backoff: Backoff = field(default_factory=lambda: Backoff(1.0, 10.0))


class WorkerProcesses:
    """Starts the worker processes nobody runs yet and keeps them alive.

    A worker that dies (SIGKILL, OOM, a crash) is restarted after a capped
    backoff; its unacked entries are reclaimed by the others meanwhile. One
    that dies ``worker_crash_loop`` times in a row before ever becoming healthy
    is a crash loop: ``check`` raises with the tail of its log.
    """

    def __init__(self, settings: Settings, endpoints: Endpoints):
        self.settings = settings
        self.endpoints = endpoints
        self.procs: dict[str, _Proc] = {}
        self.restarts = 0
        self._env: dict[str, str] = {}

    def wanted(self, kind: str) -> int:
        return {"detect": self.settings.detect.workers, "embed": self.settings.embed.workers}.get(
            kind, 1
        )

    def start_missing(self, client: redis.Redis, kinds: tuple[str, ...]) -> list[str]:
        env = child_env(self.settings, self.endpoints)
        if self.settings.torch_threads == 0:
            # detectors and embedders share the machine: don't let each take every core
            models = self.wanted("detect") + self.wanted("embed")
            env["FACESTREAM_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 2) // models))
        self._env = env
        log_dir = Path(self.settings.data_dir) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        started = []
        for kind in kinds:
            running = len(health.alive(client, kind))
            if running:
                log.info("%d %s worker(s) already running", running, kind)
            for i in range(running, self.wanted(kind)):
                name = kind if self.wanted(kind) == 1 else f"{kind}-{i + 1}"
                proc = self.procs[name] = _Proc(kind, name, log_dir / f"worker-{name}.log")
                self._spawn(proc)
                started.append(name)
        return started

    def _spawn(self, proc: _Proc) -> None:
        proc.backoff.max_s = self.settings.worker.restart_max_s
        with open(proc.log, "ab") as fh:
            # --parent-pid: the worker dies with this process, even SIGKILLed (facestream/lifeline.py);
            # the kernel ties that to the forking thread: spawn from the main thread only
            proc.popen = subprocess.Popen(
                [
                    *(sys.executable, "-m", "facestream", "worker", proc.kind),
                    *("--parent-pid", str(os.getpid())),
                ],
                env=self._env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        proc.started, proc.up, proc.restart_at = time.monotonic(), False, None

    def pids(self, kind: str | None = None) -> list[int]:
        return [
            p.popen.pid
            for p in self.procs.values()
            if p.popen is not None and p.popen.poll() is None and kind in (None, p.kind)
        ]

    def check(self, client: redis.Redis | None = None) -> None:
        """Restart dead workers (after a backoff); raise with the log's tail on a crash loop."""
        now = time.monotonic()
        healthy = {w.get("pid") for w in health.alive(client)} if client is not None else set()
        for proc in self.procs.values():
            if proc.restart_at is not None:
                if now >= proc.restart_at:
                    log.warning("restarting the %s worker", proc.name)
                    self._spawn(proc)
                continue
            code = proc.popen.poll() if proc.popen is not None else None
            if code is None:
                if not proc.up and proc.popen is not None and proc.popen.pid in healthy:
                    proc.up, proc.failed_starts = True, 0
                    proc.backoff.reset()
                continue
            assert proc.popen is not None  # the exit code came from it
            proc.failed_starts = 0 if proc.up else proc.failed_starts + 1
            if proc.failed_starts >= self.settings.worker.crash_loop:
                tail = proc.log.read_text(errors="replace").splitlines()[-15:]
                raise FacestreamError(
                    f"the {proc.name} worker exited with code {code} {proc.failed_starts} times "
                    f"before starting up; its log ({proc.log}) ends with:\n" + "\n".join(tail)
                )
            delay = proc.backoff.next_delay()
            proc.restart_at = now + delay
            self.restarts += 1
            log.warning(
                "the %s worker (pid %d) exited with code %s: restarting it in %.1f s",
                proc.name,
                proc.popen.pid,
                code,
                delay,
            )

    def stop(self, timeout_s: float = 20.0) -> None:
        running = [
            p.popen for p in self.procs.values() if p.popen is not None and p.popen.poll() is None
        ]
        for popen in running:
            popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for popen in running:
            try:
                popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker pid %d did not stop in %.0f s: killing it", popen.pid, timeout_s
                )
                popen.kill()
                popen.wait()
        self.procs.clear()
