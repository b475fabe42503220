"""Signing in to the web pages with a key, in Debian's chromium: the session cookie, sign-out,
CSRF, and a read key that sees no editing controls and is refused when it posts anyway."""

from __future__ import annotations

import httpx
from selenium.webdriver.common.by import By

from facestream.apikeys import ApiKeys
from facestream.web.sessions import COOKIE
from tests.support.browser import for_docs, screenshot, sign_in, wait_for
from workers.gallery.collections import Collections


def test_sign_in_sets_a_strict_http_only_cookie_and_sign_out_ends_it(web, browser):
    browser.get(f"{web.url}/people")
    assert browser.current_url.endswith("/signin")  # no session: sent to sign in
    field = browser.find_element(By.ID, "key")
    field.send_keys("fsk_kdeadbeef_not-a-key")
    field.submit()
    error = wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, ".error"))[0]
    assert "unknown or revoked" in error.text
    for_docs(screenshot(browser, "signin"), "signin.png")
    sign_in(browser, web.url, web.admin)
    assert browser.current_url.endswith("/live")
    (cookie,) = [c for c in browser.get_cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert web.admin not in browser.current_url and web.admin not in cookie["value"]
    assert browser.execute_script("return document.cookie") == ""  # not readable by scripts
    assert len(list(web.redis.scan_iter("fs:web:session:*"))) == 1
    screenshot(browser, "signin_live")
    browser.find_element(By.CSS_SELECTOR, "form.signout button").click()
    wait_for(browser, lambda d: d.current_url.endswith("/signin"))
    assert list(web.redis.scan_iter("fs:web:session:*")) == []
    browser.get(f"{web.url}/system")
    assert browser.current_url.endswith("/signin")


def test_a_post_without_the_csrf_token_is_refused(web, browser):
    Collections(web.redis).create("stage")
    sign_in(browser, web.url, web.admin)
    cookie = browser.get_cookie(COOKIE)["value"]
    jar = {COOKIE: cookie}
    forged = httpx.post(f"{web.url}/people/stage/new", data={"name": "mallory"}, cookies=jar)
    assert forged.status_code == 403 and "csrf" in forged.text
    api = httpx.post(f"{web.url}/v1/collections/stage/people", json={"name": "m"}, cookies=jar)
    assert api.status_code == 403 and "X-CSRF-Token" in api.text
    assert Collections(web.redis).exists("stage")
    assert web.redis.hlen("fs:c:stage:people") == 0


def test_a_sign_in_posted_from_elsewhere_is_refused(web):
    # another site's form posts its own key: without the form's cookie no session is made
    forged = httpx.post(f"{web.url}/signin", data={"key": web.admin, "token": "guess"})
    assert forged.status_code == 403 and "came from elsewhere" in forged.text
    assert COOKIE not in forged.cookies
    assert list(web.redis.scan_iter("fs:web:session:*")) == []
    # the form's own token and cookie, as a browser on this site sends them: signed in
    with httpx.Client(base_url=web.url) as client:
        form = client.get("/signin")
        token = form.text.split('name="token" value="')[1].split('"')[0]
        done = client.post("/signin", data={"key": web.admin, "token": token})
        assert done.status_code == 303 and COOKIE in done.cookies


def test_a_read_key_sees_no_editing_controls_and_gets_403(web, browser):
    Collections(web.redis).create("stage")
    people = ApiKeys(web.redis)
    _, reader = people.create("read", "stage")
    from facestream.services import Services

    person = Services(web.settings, web.endpoints).gallery("stage").people.get_or_create("rose")
    sign_in(browser, web.url, reader)
    browser.get(f"{web.url}/people")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "li.person"))
    assert browser.find_element(By.CSS_SELECTOR, "li.person h2").text == "rose"
    for control in ("form.upload", "form.inline button", "input[name=csrf]:not(header *)"):
        shown = [e for e in browser.find_elements(By.CSS_SELECTOR, "main " + control)]
        assert shown == [], control
    screenshot(browser, "people_read_key")
    browser.set_window_size(390, 844)  # a phone: nothing wider than the screen
    browser.refresh()
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "li.person"))
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    screenshot(browser, "people_phone")
    # posting anyway, with this session's own CSRF token: the role is what refuses it
    status = browser.execute_script(
        """
        const token = document.querySelector('meta[name="csrf-token"]').content;
        const form = new URLSearchParams({csrf: token, name: "renamed"});
        const a = await fetch(arguments[0], {method: "POST", body: form});
        const b = await fetch(arguments[1], {method: "PATCH", body: JSON.stringify({name: "x"}),
            headers: {"X-CSRF-Token": token, "Content-Type": "application/json"}});
        return [a.status, b.status];
        """,
        f"/people/stage/{person}/rename",
        f"/v1/collections/stage/people/{person}",
    )
    assert status == [403, 403]
    assert Services(web.settings, web.endpoints).gallery("stage").people.get(person).name == "rose"
