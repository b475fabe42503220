"""Shared fixtures: one real embedded stack (Valkey/Redis + milvus-lite) per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from facestream.stack import EmbeddedStack, Endpoints

SHARED_DIR = Path(__file__).resolve().parents[1].parent / "shared"


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
    return Settings(data_dir=tmp_path / "data", redis_url=stack.redis_url, milvus_uri=stack.milvus_uri)


@pytest.fixture
def redis_client(stack: Endpoints):
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def milvus_client(stack: Endpoints):
    from facestream.servers import open_milvus_client

    client = open_milvus_client(stack.milvus_uri)
    for name in client.list_collections():
        client.drop_collection(name)
    yield client
    client.close()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The repo's sibling ../shared folder (media/ clips, faces/ photos)."""
    if not SHARED_DIR.is_dir():
        pytest.skip(f"shared test data not found: {SHARED_DIR} (expected media/ and faces/ there)")
    return SHARED_DIR
