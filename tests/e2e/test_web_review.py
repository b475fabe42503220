"""The Review page in Debian's chromium: after a crowd_1080p run (nobody enrolled) its unknown
faces are listed; naming one enrolls them, and they are in People with their faces. Real run,
real models."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import screenshot, sign_in, wait_for
from workers.gallery.collections import Collections
from workers.gallery.unknowns import list_unknowns

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def test_name_an_unknown_of_a_crowd_run_and_see_them_in_people(web, browser, shared_dir, cli):
    Collections(web.redis).create("crowd")
    done = cli(
        web.settings.data_dir, web.endpoints, "--embedder", "dlib", "--collection", "crowd",
        "run", str(shared_dir / "media" / "crowd_1080p.mp4"), "--camera", "arcade", timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    found = sorted(list_unknowns(web.redis, "crowd"), key=lambda u: -u.last_seen)
    assert found, "the crowd run left no unknown faces"
    sign_in(browser, web.url, web.admin)
    browser.get(f"{web.url}/review/crowd")
    cards = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "li.unknown"))
    assert {c.get_attribute("data-label") for c in cards} == {u.label for u in found}
    shot = screenshot(browser, "review")
    DOCS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, DOCS / "review.png")
    label = cards[0].get_attribute("data-label")
    field = browser.find_element(By.ID, f"name-{label}")
    field.send_keys("passer_by")
    field.submit()
    notice = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"), timeout=120)
    assert f"{label} enrolled as passer_by" in notice[0].text
    assert label not in {c.get_attribute("data-label") for c in
                         browser.find_elements(By.CSS_SELECTOR, "li.unknown")}  # fmt: skip
    browser.get(f"{web.url}/people/crowd")
    card = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, 'li[data-name="passer_by"]'))
    enrolled = int(card.find_element(By.CSS_SELECTOR, "p.hint:not(.thumbs *)").text.split()[0])
    assert enrolled >= 1
    screenshot(browser, "review_named_in_people")
