"""The People page in Debian's chromium: enroll a person by uploading photos and see a verdict
per photo and their thumbnails; erase a person after confirming and see them gone, thumbnails
included. Real models (dlib), real photos."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image
from selenium.webdriver.common.by import By

from facestream import thumbnails
from tests.support.browser import for_docs, screenshot, sign_in, wait_for
from workers.gallery.collections import Collections

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _person(browser, name: str):
    return wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, f'li[data-name="{name}"]'))


def _add(browser, name: str) -> None:
    field = browser.find_element(By.ID, "new-name")
    field.send_keys(name)
    field.submit()
    _person(browser, name)


def test_enroll_by_upload_shows_verdicts_and_thumbnails(web, browser, examples_dir, tmp_path):
    Collections(web.redis).create("stage")
    sign_in(browser, web.url, web.admin)
    browser.get(f"{web.url}/people/stage")
    _add(browser, "lin_manuel_miranda")
    blank = tmp_path / "wall.png"  # a photo with no face: refused, and the page says why
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(blank)
    photo = examples_dir / "gallery" / "lin_manuel_miranda" / "lin-manuel-miranda.png"
    card = _person(browser, "lin_manuel_miranda")
    card.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(f"{photo}\n{blank}")
    out = card.find_element(By.CSS_SELECTOR, "output.verdicts")
    wait_for(browser, lambda d: out.get_attribute("data-done") == "1", timeout=300)
    lines = [li.text for li in out.find_elements(By.TAG_NAME, "li")]
    assert lines == [
        "lin-manuel-miranda.png: enrolled",
        "wall.png: refused: no face found",
    ], lines
    screenshot(browser, "people_upload_verdicts")
    browser.refresh()
    card = _person(browser, "lin_manuel_miranda")
    (thumb,) = card.find_elements(By.CSS_SELECTOR, ".thumbs img")
    wait_for(browser, lambda d: d.execute_script("return arguments[0].naturalWidth", thumb) > 0)
    assert browser.execute_script("return arguments[0].naturalWidth", thumb) == thumbnails.SIZE
    assert "1 face enrolled" in card.text
    shot = screenshot(browser, "people")
    for_docs(shot, "people.png")


def test_erase_a_person_after_confirming_and_see_them_gone(web, browser, examples_dir):
    Collections(web.redis).create("stage")
    sign_in(browser, web.url, web.admin)
    browser.get(f"{web.url}/people/stage")
    _add(browser, "obama")
    _add(browser, "biden")
    card = _person(browser, "obama")
    photo = examples_dir / "gallery" / "obama" / "obama.jpg"
    card.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(photo))
    out = card.find_element(By.CSS_SELECTOR, "output.verdicts")
    wait_for(browser, lambda d: out.get_attribute("data-done") == "1", timeout=300)
    person_id = card.get_attribute("id")
    assert web.redis.hlen(thumbnails.key(person_id)) == 1
    # cancel first: nothing happens
    card.find_element(By.CSS_SELECTOR, "button.danger").click()
    alert = wait_for(browser, lambda d: d.switch_to.alert)
    assert "Erase obama" in alert.text
    alert.dismiss()
    time.sleep(0.5)
    _person(browser, "obama")
    card = _person(browser, "obama")
    card.find_element(By.CSS_SELECTOR, "button.danger").click()
    wait_for(browser, lambda d: d.switch_to.alert).accept()
    notice = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"), timeout=120)
    assert "erased obama" in notice[0].text
    names = [
        e.get_attribute("data-name") for e in browser.find_elements(By.CSS_SELECTOR, "li.person")
    ]
    assert names == ["biden"]
    assert not web.redis.exists(thumbnails.key(person_id))
    screenshot(browser, "people_erased")
