"""The Live pages in Debian's chromium: hamilton_360p run as a file camera of a collection where
lin_manuel_miranda is enrolled; the camera's tile shows its state, and its view shows frames
with lin_manuel_miranda drawn, and the capture-to-drawn latency. Real run, real models."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.support.api_server import enroll_lin
from tests.support.browser import for_docs, screenshot, sign_in, wait_for
from workers import keys

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def run_file_camera(web, clip: Path | str, camera: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "facestream", "--data-dir", str(web.settings.data_dir),
         "--redis-url", web.endpoints.redis_url, "--milvus-uri", web.endpoints.milvus_uri,
         "--embedder", "dlib", "--collection", "stage", "run", str(clip), "--camera", camera],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_live_view_draws_lin_manuel_miranda(web, browser, examples_dir):
    enroll_lin(web.url, web.admin, examples_dir)
    sign_in(browser, web.url, web.admin)
    run = run_file_camera(web, examples_dir / "hamilton_360p.mp4", "stage-cam")
    try:
        deadline = time.monotonic() + 120
        while not web.redis.sismember(keys.CAMERAS, "stage-cam"):
            assert run.poll() is None, run.stderr.read()[-3000:]
            assert time.monotonic() < deadline, "the run never registered its camera"
            time.sleep(0.2)
        browser.get(f"{web.url}/live")
        tile = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".tile"))
        assert "stage-cam" in tile.text
        for_docs(screenshot(browser, "live_tiles"), "live_tiles.png")
        tile.find_element(By.LINK_TEXT, "stage-cam").click()
        wait_for(
            browser,
            lambda d: "lin_manuel_miranda" in d.execute_script("return window.fsLabels || []"),
            timeout=600,
        )
        wait_for(browser, lambda d: d.execute_script("return window.fsLatencies.length") > 3)
        latencies = browser.execute_script("return window.fsLatencies")
        caption = browser.find_element(By.ID, "faces").text
        shot = screenshot(browser, "live")
        assert all(0 < ms < 60_000 for ms in latencies), latencies
        assert "capture → drawn" in browser.find_element(By.ID, "latency").text
        assert "#" in caption  # track ids are drawn with the labels
        for_docs(shot, "live.png")
        run.wait(timeout=600)
    finally:
        if run.poll() is None:
            run.terminate()
            run.wait(30)
    assert run.returncode == 0, run.stderr.read()[-3000:]
    # the run's tracks on the Activity page, filtered by person
    browser.get(f"{web.url}/activity?person=lin_manuel_miranda")
    section = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, "main section.camera"))
    assert section.find_element(By.TAG_NAME, "h2").text == "stage-cam"
    rows = section.find_elements(By.CSS_SELECTOR, "tbody th")
    assert rows and {r.text for r in rows} == {"lin_manuel_miranda"}
    bars = section.find_elements(By.CSS_SELECTOR, ".timeline span")
    assert bars and all(b.size["width"] > 0 for b in bars)
    chart = browser.find_element(By.CSS_SELECTOR, "#screen-time img")  # the API's PNG report
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", chart) > 0)
    for_docs(screenshot(browser, "activity"), "activity.png")
    # the Search page: a photo of him is him, and he leads the look-alikes
    browser.get(f"{web.url}/search/stage")
    photo = examples_dir / "gallery" / "lin_manuel_miranda" / "lin-manuel-miranda.png"
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    form = browser.find_element(By.CSS_SELECTOR, "form.search")
    wait_for(browser, lambda d: form.get_attribute("data-done") == "1", timeout=300)
    assert browser.find_element(By.ID, "who").text.startswith("Who:\nlin_manuel_miranda (score")
    alike = browser.find_element(By.ID, "lookalikes").text
    assert alike.startswith("Look-alikes:\nlin_manuel_miranda"), alike
    for_docs(screenshot(browser, "search"), "search.png")
    browser.get(f"{web.url}/system")
    cameras = wait_for(browser, lambda d: d.find_elements(By.XPATH, "//th[text()='stage-cam']"))
    assert cameras
    for_docs(screenshot(browser, "system"), "system.png")
