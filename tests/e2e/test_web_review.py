"""The Review page in Debian's chromium: after a crowd_1080p run (nobody enrolled) its unknown
faces are listed; naming one enrolls them, and they are in People with their faces. Real run,
real models."""

from __future__ import annotations

import shutil

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.expected_conditions import staleness_of

from tests.support.browser import for_docs, screenshot, sign_in, wait_for
from workers.gallery.collections import Collections
from workers.gallery.unknowns import list_unknowns

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


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
    for_docs(shot, "review.png")
    assert len(cards) >= 3, "the crowd clip has more than three people in it"
    label, other, third = (c.get_attribute("data-label") for c in cards[:3])

    def act(on: str, field: str | None, value: str, action: str) -> str:
        card = browser.find_element(By.CSS_SELECTOR, f'li[data-label="{on}"]')
        if field:
            card.find_element(By.ID, f"{field}-{on}").send_keys(value)
        before = browser.find_element(By.TAG_NAME, "main")
        card.find_element(By.CSS_SELECTOR, f'button[value="{action}"]').click()
        wait_for(browser, staleness_of(before), timeout=120)  # the answer is a new page
        return browser.find_element(By.CSS_SELECTOR, ".notice, .error").text

    def shown() -> set[str]:
        return {c.get_attribute("data-label") for c in
                browser.find_elements(By.CSS_SELECTOR, "li.unknown")}  # fmt: skip

    assert act(label, "merge", other, "merge") == f"merged into {label}"
    assert other not in shown()
    assert act(third, None, "", "reject").startswith(f"{third} rejected")
    assert third not in shown()
    assert act(label, "name", "passer_by", "label").startswith(f"{label} enrolled as passer_by")
    assert label not in shown()
    browser.get(f"{web.url}/people/crowd")
    card = wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, 'li[data-name="passer_by"]'))
    enrolled = int(card.find_element(By.CSS_SELECTOR, "p.hint:not(.thumbs *)").text.split()[0])
    assert enrolled >= 1
    screenshot(browser, "review_named_in_people")


def test_review_index_groups_label_merge_reject_commit(web, browser, examples_dir, cli, tmp_path):
    photos = tmp_path / "photos"
    for person in ("obama", "biden", "rose_leslie"):
        for photo in (examples_dir / "gallery" / person).iterdir():
            (photos / person).mkdir(parents=True, exist_ok=True)
            shutil.copy(photo, photos / person / photo.name)
    Collections(web.redis).create("stage")
    done = cli(
        web.settings.data_dir, web.endpoints, "--embedder", "dlib", "--collection", "stage",
        "index", str(photos), timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    sign_in(browser, web.url, web.admin)
    browser.get(f"{web.url}/review/stage")
    groups = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "li.group"))
    ids = [g.get_attribute("id") for g in groups]
    assert len(ids) >= 3, [g.text for g in groups]
    for img in browser.find_elements(By.CSS_SELECTOR, "li.group .thumbs img"):
        assert browser.execute_script("return arguments[0].naturalWidth", img) > 0
    for_docs(screenshot(browser, "review_groups"), "review_groups.png")
    first, second, third = ids[:3]

    def act(group: str, field: str | None, value: str, action: str) -> str:
        card = browser.find_element(By.ID, group)
        if field:
            box = card.find_element(By.ID, f"{field}-{group}")
            box.clear()
            box.send_keys(value)
        before = browser.find_element(By.TAG_NAME, "main")
        card.find_element(By.CSS_SELECTOR, f'button[value="{action}"]').click()
        wait_for(browser, staleness_of(before))  # the answer is a new page
        found = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice, .error"))
        return found[0].text

    assert act(first, "merge", second, "merge") == f"merged into {first}"
    assert second not in [g.get_attribute("id") for g in
                          browser.find_elements(By.CSS_SELECTOR, "li.group")]  # fmt: skip
    assert act(first, "label", "someone", "label") == f"{first} labelled someone"
    assert act(third, None, "", "reject").startswith(f"{third} rejected")
    before = browser.find_element(By.TAG_NAME, "main")
    browser.find_element(By.XPATH, "//button[text()='Commit labelled groups']").click()
    wait_for(browser, staleness_of(before))
    notice = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".notice"), timeout=120)
    assert notice[0].text.startswith("enrolled someone ("), notice[0].text
    browser.get(f"{web.url}/people/stage")
    wait_for(browser, lambda d: d.find_element(By.CSS_SELECTOR, 'li[data-name="someone"]'))
