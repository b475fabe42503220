"""API keys over HTTP: an admin creates, lists and revokes keys; nobody else may."""

from __future__ import annotations

import httpx
import pytest

from workers.gallery.collections import Collections

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def api(admin_api):
    Collections(admin_api[2]).create("shop")
    return admin_api


def test_a_key_created_over_http_works_until_revoked(api) -> None:
    url, admin, client = api
    made = httpx.post(f"{url}/v1/keys", json={"role": "read", "collection": "shop"}, headers=admin)
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["role"] == "read" and body["collection"] == "shop"
    reader = {"Authorization": f"Bearer {body['key']}"}
    assert httpx.get(f"{url}/v1/collections/shop/people", headers=reader).status_code == 200
    listed = httpx.get(f"{url}/v1/keys", headers=admin).json()
    assert body["key_id"] in {k["key_id"] for k in listed}
    assert all("key" not in k for k in listed)  # the secret is shown once, at creation
    assert body["key"] not in str(client.hgetall("fs:api-keys"))  # only its hash is stored
    # a read key may not manage keys
    assert httpx.get(f"{url}/v1/keys", headers=reader).status_code == 403
    assert httpx.delete(f"{url}/v1/keys/{body['key_id']}", headers=admin).status_code == 204
    assert httpx.get(f"{url}/v1/collections/shop/people", headers=reader).status_code == 401
    assert httpx.delete(f"{url}/v1/keys/{body['key_id']}", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"role": "read"}, 422),  # a read key needs a collection
        ({"role": "admin", "collection": "shop"}, 422),  # an admin key has them all
        ({"role": "write", "collection": "nowhere"}, 404),
        ({"role": "owner", "collection": "shop"}, 422),
        ({"role": "read", "collection": "shop", "secret": "mine"}, 422),
    ],
)
def test_bad_key_requests_are_refused_clearly(api, body: dict, status: int) -> None:
    url, admin, _ = api
    got = httpx.post(f"{url}/v1/keys", json=body, headers=admin)
    assert got.status_code == status, got.text
    assert got.headers["content-type"].startswith("application/problem+json")
