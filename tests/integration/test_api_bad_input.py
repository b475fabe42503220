"""Every bad request gets its 4xx as application/problem+json naming the field, never a 5xx; the
server keeps answering. Real uvicorn, real Redis and Milvus, the real models (the photo checks
come before any model runs)."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from config.settings import Settings
from facestream.apikeys import ApiKeys
from facestream.stack import Endpoints
from tests.support.api_server import api_server

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def api(stack: Endpoints, tmp_path_factory):
    import redis

    client = redis.Redis.from_url(stack.redis_url)
    client.flushall()
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("api"),
        redis_url=stack.redis_url,
        milvus_uri=stack.milvus_uri,
        embedder="dlib",
        api={"max_upload_mb": 1.0},
    )
    _, admin = ApiKeys(client).create("admin")
    with api_server(settings, stack) as url:
        headers = {"Authorization": f"Bearer {admin}"}
        pid = httpx.post(
            f"{url}/v1/collections/default/people", json={"name": "someone"}, headers=headers
        ).json()["id"]
        yield url, headers, pid


def png_bomb(side: int = 30000) -> bytes:
    """A valid PNG header declaring side x side pixels, with a few KB of compressed zeros."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (side + 1) * 64, 9)  # the first rows; the rest never matters
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")
    )


def jpeg(size=(64, 64)) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((*size, 3), 128, np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("RGB", (32, 32), c) for c in ("red", "blue", "green")]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


BAD_IMAGES = {
    "not an image": (b"hello, this is text\n" * 10, 415),
    "empty": (b"", 422),
    "over the size limit": (b"\xff\xd8\xff" + b"\x00" * 1_100_000, 413),
    "decompression bomb": (png_bomb(), 413),
    "animated gif": (animated_gif(), 415),
    "truncated jpeg": (jpeg((480, 640))[:1500], 422),
}


def assert_problem(got: httpx.Response, status: int, field: str | None = None) -> dict:
    assert got.status_code == status, got.text
    assert got.headers["content-type"] == "application/problem+json", got.headers
    body = got.json()
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert body.get("field") == field, body
    return body


@pytest.mark.parametrize("what", sorted(BAD_IMAGES))
@pytest.mark.parametrize("endpoint", ["identify", "search", "faces"])
def test_bad_images_get_their_4xx(api, what, endpoint):
    url, headers, pid = api
    data, status = BAD_IMAGES[what]
    target = {
        "identify": f"{url}/v1/collections/default/identify",
        "search": f"{url}/v1/collections/default/search",
        "faces": f"{url}/v1/collections/default/people/{pid}/faces",
    }[endpoint]
    got = httpx.post(
        target, files={"image": ("x.jpg", data, "image/jpeg")}, headers=headers, timeout=60
    )
    body = assert_problem(got, status, "image")
    assert "x.jpg" in body["detail"]
    assert httpx.get(f"{url}/v1/health").status_code == 200  # still answering


def test_a_body_over_the_limit_is_refused_before_it_is_read(api):
    url, headers, _ = api
    big = b"\x00" * 30_000_000  # over max_files x max_upload_mb: refused by its Content-Length
    got = httpx.post(
        f"{url}/v1/collections/default/identify",
        files={"image": ("big.jpg", big, "image/jpeg")},
        headers=headers,
        timeout=60,
    )
    assert_problem(got, 413, "body")


@pytest.mark.parametrize(
    "name", ["", " ", "x" * 65, "bad\x00name", "tab\tname", "new\nline", "a/b", 42, None]
)
def test_bad_person_names(api, name):
    url, headers, pid = api
    got = httpx.post(f"{url}/v1/collections/default/people", json={"name": name}, headers=headers)
    assert_problem(got, 422)
    renamed = httpx.patch(
        f"{url}/v1/collections/default/people/{pid}", json={"name": name}, headers=headers
    )
    assert_problem(renamed, 422)


@pytest.mark.parametrize(
    "method, path, kwargs, status, field",
    [
        ("post", "/v1/collections", {"json": {"name": "Bad-Name"}}, 422, "name"),
        ("post", "/v1/collections", {"json": {}}, 422, "name"),
        (
            "post",
            "/v1/collections",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
            None,
        ),
        ("post", "/v1/collections", {"json": {"name": "default"}}, 409, "name"),
        ("delete", "/v1/collections/NOPE", {}, 422, "collection"),
        ("delete", "/v1/collections/nope", {}, 404, "collection"),
        ("get", "/v1/collections/nope/people", {}, 404, "collection"),
        ("get", "/v1/collections/default/people?limit=0", {}, 422, "limit"),
        ("get", "/v1/collections/default/people?offset=-1", {}, 422, "offset"),
        ("get", "/v1/collections/default/people/p-0123", {}, 422, "person_id"),
        ("get", "/v1/collections/default/people/p-000000000000", {}, 404, "person_id"),
        (
            "post",
            "/v1/collections/default/people",
            {"json": {"name": "x", "extra": 1}},
            422,
            "extra",
        ),
        ("post", "/v1/collections/default/identify", {}, 422, "image"),
        ("post", "/v1/collections/default/identify", {"data": {"image": "text"}}, 422, "image"),
        (
            "post",
            "/v1/collections/default/search?k=0",
            {"files": {"image": ("a.jpg", jpeg(), "image/jpeg")}},
            422,
            "k",
        ),
        (
            "post",
            "/v1/collections/default/search?min_score=abc",
            {"files": {"image": ("a.jpg", jpeg(), "image/jpeg")}},
            422,
            "min_score",
        ),
        (
            "post",
            "/v1/collections/default/search",
            {"files": {"image": ("a.jpg", jpeg(), "image/jpeg")}},
            422,
            "image",
        ),
        ("delete", "/v1/collections/default/people/p-000000000000/faces/12", {}, 404, "person_id"),
        ("delete", "/v1/collections/default/people/p-000000000000/faces/x", {}, 422, "face_id"),
        ("get", "/v1/nothing-here", {}, 404, None),
        ("put", "/v1/collections", {}, 405, None),
    ],
)
def test_bad_requests(api, method, path, kwargs, status, field):
    url, headers, _ = api
    kwargs = dict(kwargs)
    kwargs["headers"] = headers | kwargs.get("headers", {})
    got = httpx.request(method.upper(), url + path, timeout=60, **kwargs)
    assert_problem(got, status, field)


def test_a_face_refused_for_having_none(api, shared_dir: Path):
    url, headers, pid = api
    got = httpx.post(
        f"{url}/v1/collections/default/people/{pid}/faces",
        files={"image": ("grey.jpg", jpeg(), "image/jpeg")},
        headers=headers,
        timeout=120,
    )
    assert got.status_code == 200
    assert got.json()["images"] == [
        {"image": "grey.jpg", "faces_found": 0, "enrolled": False, "reasons": ["no face found"]}
    ]


def test_randomised_requests_from_the_openapi_document_get_no_5xx(api):
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    url, headers, _ = api
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: set[int] = set()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case) -> None:
            response = case.call(headers=headers, timeout=60)
            seen.add(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            if response.status_code >= 400:
                assert "application/problem+json" in str(response.headers["content-type"])

        check()
    assert seen & {200, 201, 204}, seen  # the key was used: requests got past authentication
