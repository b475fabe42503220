"""Workers hand freed heap pages back to the OS with their health beat (glibc's malloc_trim)."""

import sys

import pytest

from workers.memory import release_free_memory


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
def test_freed_heap_pages_go_back_to_the_os():
    blocks = [bytearray(100_000) for _ in range(4000)]  # below the mmap threshold: on the heap
    del blocks[::2]  # every other one freed: holes that glibc keeps, not the heap's top
    before = rss_mib()
    assert release_free_memory()
    assert rss_mib() < before - 100  # ~190 MiB of holes
    del blocks
