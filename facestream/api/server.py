"""`facestream serve`: the API in uvicorn, on this process's stack."""

from __future__ import annotations

import logging

import uvicorn

from config.settings import Settings
from facestream.api.app import create_app
from facestream.api.context import ApiContext
from facestream.services import Services
from facestream.stack import EmbeddedStack

log = logging.getLogger(__name__)


def serve(settings: Settings, host: str, port: int) -> None:
    with EmbeddedStack(settings) as endpoints:
        app = create_app(ApiContext(settings, Services(settings, endpoints)))
        # access logs off: a request line is harmless, but keep one source of truth (metrics)
        uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
