"""Worker processes started by `facestream run` for the kinds that nobody runs yet."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from config.errors import FacestreamError
from config.settings import Settings, settings_env
from facestream.stack import Endpoints
from workers import keys

log = logging.getLogger(__name__)


def live_workers(client: redis.Redis, kind: str) -> int:
    return sum(1 for _ in client.scan_iter(match=keys.health_pattern(kind), count=100))


def child_env(settings: Settings, endpoints: Endpoints) -> dict[str, str]:
    """The parent's settings as FACESTREAM_* variables, so children see what the CLI was given."""
    env = dict(os.environ)
    env.update(settings_env(settings))
    env["FACESTREAM_REDIS_URL"] = endpoints.redis_url
    env["FACESTREAM_MILVUS_URI"] = endpoints.milvus_uri
    env["FACESTREAM_DATA_DIR"] = str(Path(settings.data_dir).resolve())
    return env


class WorkerProcesses:
    def __init__(self, settings: Settings, endpoints: Endpoints):
        self.settings = settings
        self.endpoints = endpoints
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def start_missing(self, client: redis.Redis, kinds: tuple[str, ...]) -> list[str]:
        env = child_env(self.settings, self.endpoints)
        if self.settings.torch_threads == 0:
            # one detector and one embedder share the machine: don't let each take every core
            env["FACESTREAM_TORCH_THREADS"] = str(max(1, (os.cpu_count() or 2) // 2))
        log_dir = Path(self.settings.data_dir) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        started = []
        for kind in kinds:
            if live_workers(client, kind):
                log.info("a %s worker is already running: not starting another", kind)
                continue
            path = log_dir / f"worker-{kind}.log"
            with open(path, "ab") as fh:
                self.procs[kind] = subprocess.Popen(
                    [sys.executable, "-m", "facestream", "worker", kind], env=env,
                    stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            self.logs[kind] = path
            started.append(kind)
        return started

    def check(self) -> None:
        """Raise with the log's tail when a worker we started has died."""
        for kind, proc in self.procs.items():
            code = proc.poll()
            if code is not None:
                tail = self.logs[kind].read_text(errors="replace").splitlines()[-15:]
                raise FacestreamError(f"the {kind} worker exited with code {code}; its log "
                                      f"({self.logs[kind]}) ends with:\n" + "\n".join(tail))

    def stop(self, timeout_s: float = 20.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for kind, proc in self.procs.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s worker did not stop in %.0f s: killing it", kind, timeout_s)
                proc.kill()
                proc.wait()
        self.procs.clear()


def worker_health(client: redis.Redis) -> list[dict]:
    out = []
    for key in client.scan_iter(match=keys.health_pattern(), count=100):
        raw = client.get(key)
        if raw:
            out.append(json.loads(raw))
    return out
