"""Fixtures shared by the integration tests of the HTTP API."""

from __future__ import annotations

import pytest

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.stack import Endpoints
from tests.support.api_server import api_server


@pytest.fixture
def admin_api(stack: Endpoints, redis_client, tmp_path):
    """(URL, an admin key's Authorization header, the Redis client) of an API server on the
    session's stack."""
    settings = Settings(
        data_dir=tmp_path / "data", redis_url=stack.redis_url, milvus_uri=stack.milvus_uri
    )
    _, admin = ApiKeys(redis_client).create("admin")
    with api_server(settings, stack) as url:
        yield url, {"Authorization": f"Bearer {admin}"}, redis_client
