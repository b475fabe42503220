"""The API in uvicorn on a free port, in a thread of the test process (real HTTP, real servers)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn

from config.settings import Settings
from facestream.api.app import create_app
from facestream.api.context import ApiContext
from facestream.services import Services
from facestream.stack import Endpoints


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def api_server(
    settings: Settings, endpoints: Endpoints, ctx: ApiContext | None = None
) -> Iterator[str]:
    """Base URL of a running server; stopped on exit."""
    ctx = ctx or ApiContext(settings, Services(settings, endpoints))
    port = free_port()
    config = uvicorn.Config(create_app(ctx), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/v1/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API did not answer on {url} within 30 s")
        time.sleep(0.1)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(10)


def enroll_lin(url: str, admin: str, examples_dir: Path) -> None:
    """Collection ``stage`` with lin_manuel_miranda enrolled from the examples' photo, over HTTP."""
    a = {"Authorization": f"Bearer {admin}"}
    assert httpx.post(f"{url}/v1/collections", json={"name": "stage"}, headers=a).is_success
    pid = httpx.post(
        f"{url}/v1/collections/stage/people", json={"name": "lin_manuel_miranda"}, headers=a
    ).json()["id"]
    photo = examples_dir / "gallery" / "lin_manuel_miranda" / "lin-manuel-miranda.png"
    enrolled = httpx.post(
        f"{url}/v1/collections/stage/people/{pid}/faces",
        files={"image": (photo.name, photo.read_bytes(), "image/png")},
        headers=a,
        timeout=300,
    )
    assert enrolled.json()["images"][0]["enrolled"], enrolled.text
