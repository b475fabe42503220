"""A private Valkey/Redis for a benchmark, started as `facestream run` starts it (AOF on)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facestream import servers
from facestream.stack import with_password


@contextmanager
def private_redis() -> Iterator[tuple[str, servers.Server, Path]]:
    """(URL with the password, the server, its data directory); stopped and removed on exit."""
    with tempfile.TemporaryDirectory() as tmp:
        server = servers.start_redis(Path(tmp))
        try:
            yield with_password(server.url, servers.redis_password(Path(tmp))), server, Path(tmp)
        finally:
            servers.stop(server)
