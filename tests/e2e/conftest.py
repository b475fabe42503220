"""End-to-end fixtures: a private stack per fixture, the real CLI, real models, real clips."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from facestream.stack import EmbeddedStack, Endpoints
from tests.support.browser import browser, web  # noqa: F401 (fixtures of the web page tests)

pytestmark = pytest.mark.slow


def facestream(
    data_dir: Path, endpoints: Endpoints, *args: str, timeout: float = 600
) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess, as a user would run it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FACESTREAM_")}
    cmd = [
        sys.executable,
        "-m",
        "facestream",
        "--data-dir",
        str(data_dir),
        "--redis-url",
        endpoints.redis_url,
        "--milvus-uri",
        endpoints.milvus_uri,
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="session")
def cli():
    """``cli(data_dir, endpoints, *args)`` runs the facestream CLI in a subprocess."""
    return facestream


@pytest.fixture(scope="session")
def gallery_stack(
    tmp_path_factory: pytest.TempPathFactory, examples_dir: Path
) -> Iterator[tuple[Path, Endpoints]]:
    """A stack with examples/gallery enrolled (dlib embedder)."""
    data_dir = tmp_path_factory.mktemp("gallery")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        done = facestream(data_dir, endpoints, "enroll", "--dir", str(examples_dir / "gallery"))
        assert done.returncode == 0, done.stderr
        yield data_dir, endpoints


@pytest.fixture(scope="session")
def empty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Endpoints]]:
    data_dir = tmp_path_factory.mktemp("empty")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        yield data_dir, endpoints
