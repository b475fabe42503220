"""A worker started by `facestream run` dies with the `run` that started it.

`run` hosts a file's grabber, so a `run` SIGKILLed (or OOM-killed) mid-clip cannot stop its
workers the way Ctrl-C does. Left running, they keep a health key alive: the next `run` over
the same data counts them as its own workers and starts none, then they finish the dead run's
frames among the new run's (measured: 12-105 of ~470 records differing, 5 processes left).

Why ``prctl(PR_SET_PDEATHSIG)`` rather than a parent-pid watch in the health beat: the kernel
delivers the signal the moment the parent dies, while a watch would notice only at the next
beat (seconds) and, meanwhile, the new run would find a live health key and start no worker of
that kind. SIGKILL rather than SIGTERM for the same reason: a worker finishing its batch keeps
its key alive for that long; killed, its key names a dead pid, which `health` reports as
``dead`` at once, and its unacked entries belong to a run that is over (the next run discards
them, workers/superseded.py).

The death signal follows the parent *thread* that forked the child: `run` spawns and restarts
its workers from its main thread only (facestream/processes.py), which lives as long as `run`.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys

from config.errors import FacestreamError

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when ``parent_pid`` (our parent) exits; raise if it
    is gone already (it died between starting us and this call: nobody would stop us)."""
    if not sys.platform.startswith("linux"):
        log.warning("not on Linux: this worker outlives a killed parent (pid %d)", parent_pid)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
        errno = ctypes.get_errno()
        log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(errno))
        return
    # checked after prctl: a parent that died before it would never send the signal
    if os.getppid() != parent_pid:
        raise FacestreamError(
            f"--parent-pid: expected our parent to be process {parent_pid}, got "
            f"{os.getppid()} (the process that started this worker has exited)"
        )
