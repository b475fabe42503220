"""Give the heap memory that glibc keeps after ``free`` back to the operating system.

PyTorch on a CPU allocates and frees tensors of varying sizes per frame (MTCNN's
later stages see a different number of candidate boxes each time); glibc keeps
the freed pages in its arenas, so a detector's RSS climbed ~10 MiB/min in a
10-minute live soak. Measured alone (/proc RSS, 1,600 MTCNN calls on hamilton):
974 -> 1320 MiB without trimming, of which ``malloc_trim(0)`` returned 306 MiB.
Workers call this with their health beat (every few seconds): microseconds to
milliseconds each time. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)
_trim = None
_loaded = False


def release_free_memory() -> bool:
    """``malloc_trim(0)``; True if glibc released anything."""
    global _trim, _loaded
    if not _loaded:
        _loaded = True
        try:
            _trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
            _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
            log.debug("malloc_trim not available")
    return bool(_trim(0)) if _trim is not None else False
