"""Debian's chromium, headless, driven by selenium (no browser download), and the web pages'
fixtures: a real stack, the API server with its pages, keys of each role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT, require

SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator:
    require(
        Path(CHROMIUM).exists() and Path(DRIVER).exists(),
        "Debian's chromium and chromium-driver (make system-deps)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver, name: str) -> Path:
    """A PNG of what the test checked, under artifacts/screenshots/ (CI keeps them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


DOCS = ROOT / "docs" / "screenshots"


def for_docs(shot: Path, name: str) -> None:
    """Keep a screenshot as the docs' picture of a page: 256 colours, a third of the bytes."""
    from PIL import Image

    DOCS.mkdir(parents=True, exist_ok=True)
    image = Image.open(shot).convert("RGB")
    image.quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        DOCS / name, optimize=True
    )


def wait_for(driver, condition, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(condition)


def sign_in(driver, url: str, key: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{url}/signin")
    field = driver.find_element(By.ID, "key")
    field.send_keys(key)
    field.submit()
    wait_for(driver, lambda d: "/signin" not in d.current_url)


@dataclass
class Web:
    url: str
    admin: str
    settings: object
    endpoints: object
    redis: object


@pytest.fixture
def web(stack, redis_client, milvus_client, tmp_path) -> Iterator[Web]:
    """The API and its pages on the session stack (flushed), with an admin key."""
    from config.settings import Settings
    from facestream.apikeys import ApiKeys
    from tests.support.api_server import api_server

    settings = Settings(
        data_dir=tmp_path / "data", redis_url=stack.redis_url, milvus_uri=stack.milvus_uri,
        embedder="dlib",
    )  # fmt: skip
    _, admin = ApiKeys(redis_client).create("admin")
    with api_server(settings, stack) as url:
        yield Web(url, admin, settings, stack, redis_client)


@pytest.fixture
def browser() -> Iterator:
    with chromium() as driver:
        yield driver
