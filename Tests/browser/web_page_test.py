#!/usr/bin/env python3
"""Drives Cruddur's web page in headless Chromium (Selenium + Debian's chromium-driver) against a
running `cruddur serve`. Started by Tests/CruddurTests/Web/BrowserTests.swift, in two phases:

  web_page_test.py basic --base-url URL [--screenshot PATH]
      the seed activity, posting by keyboard, the code-point counter, an over-long message (error, nothing
      written), the XSS message (literal text, no script), a 422 shown next to its field.
  web_page_test.py feed --base-url URL --bulk-prefix P --bulk-count N --expiring MESSAGE
      "load more" and scrolling to the end of a long feed, matching the API's pages exactly, and an
      activity that disappears when it expires, without a reload.
  CRUDDUR_TEST_TOKEN=… web_page_test.py auth --base-url URL
      against a server in Cognito mode: a 401 asks for a token, a rejected token says so, and the token
      (from the environment, never the command line) posts as its user.

Prints one line per check and exits non-zero at the first failure (saving a screenshot beside it).
"""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    sys.exit("web_page_test.py: Selenium is missing: run scripts/bootstrap --tests")

SEED_MESSAGE = "This was imported as seed data!"
XSS_MESSAGE = "<img src=x onerror=alert(1)>"
KEYBOARD_MESSAGE = "Hello from Chromium — typed at the keyboard, café included"
# 152 code points but 282 UTF-16 units: allowed by the server, over 280 by JavaScript's `.length`.
CODE_POINT_MESSAGE = "Counting code points: " + "😀" * 130
WAIT = 20


class CheckFailed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise CheckFailed(message)


# ---------------------------------------------------------------- the API, read directly


def api_get(url):
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), json.loads(response.read().decode("utf-8"))


def api_feed(base_url):
    """The whole home feed, page after page, following `Link: <…>; rel="next"`."""
    items, url, pages = [], base_url + "/api/activities/home", 0
    while url:
        _, headers, page = api_get(url)
        items.extend(page)
        pages += 1
        expect(pages < 1000, "the API's Link headers never end")
        link = headers.get("Link")
        url = None
        if link:
            target, _, params = link.partition(";")
            expect('rel="next"' in params, f"unexpected Link header {link!r}")
            url = base_url + target.strip()[1:-1]
    return items, pages


# ---------------------------------------------------------------- the browser


def start_browser(width, height):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    expect(chromium and driver_path, "chromium and chromedriver are needed: run scripts/bootstrap --tests")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-extensions", "--no-first-run", f"--window-size={width},{height}",
                     "--force-device-scale-factor=1", "--lang=en-US"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    set_viewport(driver, width, height, mobile=True)
    return driver


def set_viewport(driver, width, height, mobile):
    """An exact viewport (headless windows have a minimum width wider than a phone)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


def wait_for(driver, condition, message, timeout=WAIT):
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))
    except TimeoutException:
        raise CheckFailed(f"timed out after {timeout}s: {message}") from None


def feed_items(driver):
    """What the page shows, in order: uuid, display name, handle, message, and the time texts."""
    return driver.execute_script("""
        return [...document.querySelectorAll('#feed > li')].map((li) => ({
          uuid: li.dataset.uuid, created: li.dataset.created, expires: li.dataset.expires,
          display_name: li.querySelector('.display-name').textContent,
          handle: li.querySelector('.handle').textContent,
          message: li.querySelector('.message').textContent,
          message_children: li.querySelector('.message').childElementCount,
          posted: li.querySelector('.posted').textContent,
          expires_text: li.querySelector('.expires').textContent,
          counts: [...li.querySelectorAll('.count')].map((c) => c.textContent),
        }));
    """)


def text_of(driver, element_id):
    return driver.find_element(By.ID, element_id).text


def shown(driver, element_id):
    return driver.find_element(By.ID, element_id).is_displayed()


def set_message(driver, text):
    """Puts text in the message box as typing would (ChromeDriver cannot type characters outside the BMP)."""
    driver.execute_script("""
        const box = document.getElementById('message');
        box.value = arguments[0];
        box.dispatchEvent(new Event('input', { bubbles: true }));
    """, text)


def install_traps(driver):
    """Records alert() calls and CSP violations from now on."""
    driver.execute_script("""
        window.__alerts = [];
        window.__violations = [];
        window.alert = (message) => { window.__alerts.push(String(message)); };
        document.addEventListener('securitypolicyviolation', (event) => {
          window.__violations.push(event.violatedDirective + ' ' + event.blockedURI);
        });
        window.__sameDocument = true;
    """)


def console_problems(driver):
    """Console errors other than the 4xx answers the checks provoke on purpose."""
    problems = []
    for entry in driver.get_log("browser"):
        text = entry.get("message", "")
        if "Content Security Policy" in text or "Refused to" in text:
            problems.append(text)
        elif entry.get("level") == "SEVERE" and "the server responded with a status of 4" not in text:
            problems.append(text)
    return problems


def first_message(driver):
    items = feed_items(driver)
    return items[0]["message"] if items else None


# ---------------------------------------------------------------- phase 1: basic


def phase_basic(driver, base_url, screenshot):
    checks = []

    def check(name):
        def register(function):
            checks.append((name, function))
            return function
        return register

    @check("the page loads with the seed activity, its names, times and counts")
    def _():
        driver.get(base_url + "/")
        expect(driver.title == "Cruddur", f"title is {driver.title!r}")
        wait_for(driver, lambda d: any(i["message"] == SEED_MESSAGE for i in feed_items(d)), "the seed activity")
        seed = next(i for i in feed_items(driver) if i["message"] == SEED_MESSAGE)
        expect(seed["display_name"] == "Jess BK", f"display name {seed['display_name']!r}")
        expect(seed["handle"] == "@jess-bk", f"handle {seed['handle']!r}")
        expect(seed["posted"] == "just now" or seed["posted"].endswith(" ago"), f"posted {seed['posted']!r}")
        expect(seed["expires_text"].startswith("expires in "), f"expiry {seed['expires_text']!r}")
        expect(seed["counts"] == ["0 replies", "0 reposts", "0 likes"], f"counts {seed['counts']}")
        wait_for(driver, lambda d: shown(d, "feed-end"), "the end of a one-page feed")
        expect(not shown(driver, "load-more"), "no 'Load more' on a one-page feed")
        expect(text_of(driver, "feed-count") == "1 activity", f"count {text_of(driver, 'feed-count')!r}")
        ttl = driver.execute_script("return [...document.querySelectorAll('#ttl option')].map((o) => o.value)")
        expect(ttl == ["30-days", "7-days", "3-days", "1-day", "12-hours", "3-hours", "1-hour"], f"ttl options {ttl}")
        expect(driver.find_element(By.ID, "ttl").get_attribute("value") == "7-days", "7 days is the default TTL")
        expect(not shown(driver, "token-field"), "the token field stays hidden until the server asks for it")
        install_traps(driver)

    @check("the page fits a phone-width screen without sideways scrolling")
    def _():
        widths = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        expect(widths[1] <= 420, f"the window is phone-sized ({widths[1]}px)")
        expect(widths[0] <= widths[1], f"the page is {widths[0]}px wide in a {widths[1]}px window")

    @check("posting by keyboard alone shows the new activity first")
    def _():
        message = driver.find_element(By.ID, "message")
        message.send_keys(KEYBOARD_MESSAGE)
        message.send_keys(Keys.TAB)
        driver.switch_to.active_element.send_keys("bayko")
        expect(driver.switch_to.active_element.get_attribute("id") == "user-handle", "Tab moves to the handle")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: first_message(d) == KEYBOARD_MESSAGE, "the new activity on top")
        top = feed_items(driver)[0]
        expect(top["display_name"] == "Andrew Bayko" and top["handle"] == "@bayko", f"author {top}")
        expect(top["expires_text"] in ("expires in 7d 0h", "expires in 6d 23h"), f"a 7-day expiry, got {top['expires_text']!r}")
        expect(text_of(driver, "form-status") == "Posted.", f"status {text_of(driver, 'form-status')!r}")
        expect(driver.find_element(By.ID, "message").get_attribute("value") == "", "the message box is cleared")
        expect(text_of(driver, "counter-value") == "0", "the counter is reset")
        items, _ = api_feed(base_url)
        expect(items[0]["message"] == top["message"] and items[0]["uuid"] == top["uuid"], "the API has it first too")

    @check("the counter counts code points: 152 code points in 282 UTF-16 units are allowed and post")
    def _():
        emoji = CODE_POINT_MESSAGE
        set_message(driver, emoji)
        expect(text_of(driver, "counter-value") == "152", f"counter {text_of(driver, 'counter-value')!r}")
        expect(driver.execute_script("return document.getElementById('message').value.length") == 282, "282 UTF-16 units")
        expect("over" not in driver.find_element(By.ID, "message-counter").get_attribute("class"), "not over the limit")
        driver.find_element(By.ID, "ttl").send_keys(Keys.DOWN * 5)
        expect(driver.find_element(By.ID, "ttl").get_attribute("value") == "1-hour", "the TTL select takes the keyboard")
        driver.find_element(By.ID, "post-button").click()
        wait_for(driver, lambda d: first_message(d) == emoji, "the emoji activity on top")
        expires_text = feed_items(driver)[0]["expires_text"]
        expect(re.fullmatch(r"expires in (1h 0m|59m \d+s)", expires_text), f"a 1-hour expiry, got {expires_text!r}")

    @check("an over-long message shows the error next to the field and writes nothing")
    def _():
        before, _ = api_feed(base_url)
        shown_before = feed_items(driver)
        set_message(driver, "😀" * 281)
        expect(text_of(driver, "counter-value") == "281", f"counter {text_of(driver, 'counter-value')!r}")
        expect("over" in driver.find_element(By.ID, "message-counter").get_attribute("class"), "the counter shows over")
        driver.find_element(By.ID, "post-button").click()
        wait_for(driver, lambda d: shown(d, "message-error"), "the message error")
        expect(text_of(driver, "message-error") == "Messages can be at most 280 characters.", f"error {text_of(driver, 'message-error')!r}")
        expect(driver.find_element(By.ID, "message").get_attribute("aria-invalid") == "true", "the field is marked invalid")
        expect(driver.switch_to.active_element.get_attribute("id") == "message", "focus goes to the field to fix")
        after, _ = api_feed(base_url)
        expect([i["uuid"] for i in after] == [i["uuid"] for i in before], "the API's feed is unchanged")
        expect([i["uuid"] for i in feed_items(driver)] == [i["uuid"] for i in shown_before], "the page's feed is unchanged")
        expect(driver.find_element(By.ID, "message").get_attribute("value") == "😀" * 281, "the text is kept for editing")

    @check("the XSS message renders literally and runs no script")
    def _():
        message = driver.find_element(By.ID, "message")
        set_message(driver, "")
        message.send_keys(XSS_MESSAGE)
        driver.find_element(By.ID, "post-button").click()
        wait_for(driver, lambda d: first_message(d) == XSS_MESSAGE, "the XSS activity on top, as text")
        expect(not shown(driver, "message-error"), "the earlier error is cleared after a good post")
        expect(feed_items(driver)[0]["message_children"] == 0, "the message has no child elements")
        expect(len(driver.find_elements(By.CSS_SELECTOR, "#feed img")) == 0, "no <img> in the feed")
        driver.refresh()
        wait_for(driver, lambda d: first_message(d) == XSS_MESSAGE, "the XSS activity from the feed, as text")
        expect(feed_items(driver)[0]["message_children"] == 0 and not driver.find_elements(By.CSS_SELECTOR, "#feed img"),
               "rendered from the feed, it is still text")
        time.sleep(0.5)
        try:
            alert = driver.switch_to.alert
            raise CheckFailed(f"an alert opened: {alert.text!r}")
        except NoAlertPresentException:
            pass
        install_traps(driver)

    @check("a 422 for the handle shows next to the handle field")
    def _():
        set_message(driver, "Does anyone know this handle?")
        handle = driver.find_element(By.ID, "user-handle")
        expect(handle.get_attribute("value") == "bayko", "the handle is remembered across a reload")
        handle.clear()
        handle.send_keys("nobody-here")
        driver.find_element(By.ID, "post-button").click()
        wait_for(driver, lambda d: shown(d, "user-handle-error"), "the handle error")
        expect(text_of(driver, "user-handle-error") == "No one on Cruddur has that handle.", f"error {text_of(driver, 'user-handle-error')!r}")
        expect(not shown(driver, "message-error"), "no message error")
        expect(first_message(driver) == XSS_MESSAGE, "nothing new in the feed")

    @check("no script ran from a message, no CSP violation, no console error")
    def _():
        alerts, violations = driver.execute_script("return [window.__alerts, window.__violations]")
        expect(alerts == [], f"alerts: {alerts}")
        expect(violations == [], f"CSP violations: {violations}")
        problems = console_problems(driver)
        expect(problems == [], f"console: {problems}")

    if screenshot:
        @check(f"screenshot saved to {screenshot}")
        def _():
            set_viewport(driver, 720, 1180, mobile=False)
            driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(0.5)
            expect(driver.save_screenshot(screenshot), "the screenshot was written")

    return checks


# ---------------------------------------------------------------- phase 2: a long feed


def phase_feed(driver, base_url, bulk_prefix, bulk_count, expiring):
    checks = []
    expected = {}

    def check(name):
        def register(function):
            checks.append((name, function))
            return function
        return register

    @check("the page opens on a full first page with the soon-expiring activity on top")
    def _():
        api_items, pages = api_feed(base_url)
        expect(pages > 10, f"the API feed has {pages} pages")
        expected["uuids"] = [i["uuid"] for i in api_items]
        bulk = [i for i in api_items if i["message"].startswith(bulk_prefix)]
        expect(len(bulk) == bulk_count, f"the API has {len(bulk)} of the {bulk_count} bulk activities")
        driver.get(base_url + "/")
        wait_for(driver, lambda d: len(feed_items(d)) == 20, "the first page of 20")
        install_traps(driver)
        top = feed_items(driver)[0]
        expect(top["message"] == expiring, f"the top activity is {top['message']!r}")
        expect(top["expires_text"].startswith("expires in ") and "d" not in top["expires_text"], f"expiry {top['expires_text']!r}")
        expect(shown(driver, "load-more") and not shown(driver, "feed-end"), "'Load more' is offered")
        expect(text_of(driver, "feed-count") == "20 activities shown, more below", f"count {text_of(driver, 'feed-count')!r}")

    @check("'Load more' works from the keyboard")
    def _():
        button = driver.find_element(By.ID, "load-more")
        driver.execute_script("arguments[0].focus()", button)
        expect(driver.switch_to.active_element == button, "the button takes focus")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: len(feed_items(d)) >= 40, "the second page")

    @check("scrolling down reaches the end: every activity once, in the API's order")
    def _():
        deadline = time.monotonic() + 90
        while not shown(driver, "feed-end"):
            expect(time.monotonic() < deadline, f"still not at the end after 90s ({len(feed_items(driver))} shown)")
            driver.execute_script("window.scrollTo(0, document.body.scrollHeight)")
            time.sleep(0.15)
        items = feed_items(driver)
        uuids = [i["uuid"] for i in items]
        expiring_gone = expiring not in [i["message"] for i in items]
        want = [u for u in expected["uuids"] if not (expiring_gone and u == expected["uuids"][0])]
        expect(len(uuids) == len(set(uuids)), "no activity is shown twice")
        expect(uuids == want, f"the page shows {len(uuids)} activities, the API {len(want)}, in the same order")
        created = [i["created"] for i in items]
        expect(created == sorted(created, reverse=True), "newest first")
        bulk = [i for i in items if i["message"].startswith(bulk_prefix)]
        expect(len(bulk) == bulk_count, f"{len(bulk)} of {bulk_count} bulk activities shown")
        expect(not shown(driver, "load-more"), "no 'Load more' at the end")
        expect(text_of(driver, "feed-count") == f"{len(items)} activities", f"count {text_of(driver, 'feed-count')!r}")
        expect(SEED_MESSAGE in [i["message"] for i in items], "the seed activity is there too")

    @check("the expiring activity disappears when it expires, without a reload")
    def _():
        item = next((i for i in feed_items(driver) if i["message"] == expiring), None)
        if item is not None:
            left = datetime.fromisoformat(item["expires"]).timestamp() - time.time()
            expect(left < 120, f"it expires in {left:.0f}s")
            wait_for(driver, lambda d: expiring not in [i["message"] for i in feed_items(d)],
                     "the expired activity to vanish", timeout=max(left, 0) + 5)
        same = driver.execute_script("return window.__sameDocument === true")
        expect(same, "the page was not reloaded")
        count = len(feed_items(driver))
        expect(count == len(expected["uuids"]) - 1, f"{count} activities left")
        expect(text_of(driver, "feed-count") == f"{count} activities", f"count {text_of(driver, 'feed-count')!r}")

    @check("no CSP violation, no console error")
    def _():
        alerts, violations = driver.execute_script("return [window.__alerts, window.__violations]")
        expect(alerts == [] and violations == [], f"alerts {alerts}, violations {violations}")
        problems = console_problems(driver)
        expect(problems == [], f"console: {problems}")

    return checks


# ---------------------------------------------------------------- phase 3: Cognito mode


def phase_auth(driver, base_url, token):
    checks = []

    def check(name):
        def register(function):
            checks.append((name, function))
            return function
        return register

    @check("the feed is public; the token field is hidden until the server asks")
    def _():
        expect(token.count(".") == 2, "CRUDDUR_TEST_TOKEN holds a JWT")
        driver.get(base_url + "/")
        wait_for(driver, lambda d: first_message(d) == SEED_MESSAGE, "the seed activity")
        expect(not shown(driver, "token-field") and shown(driver, "handle-field"), "handle shown, token hidden")
        install_traps(driver)

    @check("a post without a token gets 401: the page asks for a token and writes nothing")
    def _():
        driver.find_element(By.ID, "message").send_keys("Signed in, I hope")
        driver.find_element(By.ID, "user-handle").send_keys("jess-bk")
        driver.find_element(By.ID, "post-button").click()
        wait_for(driver, lambda d: shown(d, "token-field"), "the token field")
        expect(text_of(driver, "token-error") == "Posting needs you to be signed in: paste your access token.",
               f"error {text_of(driver, 'token-error')!r}")
        expect(driver.switch_to.active_element.get_attribute("id") == "token", "focus goes to the token field")
        expect(not shown(driver, "handle-field"), "the handle field goes: the token names the author")
        expect(first_message(driver) == SEED_MESSAGE, "nothing posted")
        items, _ = api_feed(base_url)
        expect(len(items) == 1, f"the API has {len(items)} activities")

    @check("a rejected token says so")
    def _():
        driver.switch_to.active_element.send_keys("not.a.token" + Keys.ENTER)
        wait_for(driver, lambda d: "did not accept this token" in text_of(d, "token-error"), "the rejected-token error")
        expect(first_message(driver) == SEED_MESSAGE, "nothing posted")

    @check("the pasted token posts as its user (bayko), whatever handle was typed")
    def _():
        field = driver.find_element(By.ID, "token")
        field.clear()
        field.send_keys(token + Keys.ENTER)
        wait_for(driver, lambda d: first_message(d) == "Signed in, I hope", "the signed-in post on top")
        top = feed_items(driver)[0]
        expect(top["handle"] == "@bayko" and top["display_name"] == "Andrew Bayko", f"author {top['handle']}")
        expect(not shown(driver, "token-error"), "the token error is cleared")
        expect(driver.find_element(By.ID, "token").get_attribute("value") == token, "the token stays for the next post")
        items, _ = api_feed(base_url)
        expect(items[0]["uuid"] == top["uuid"], "the API has it first")

    @check("no CSP violation, no console error")
    def _():
        alerts, violations = driver.execute_script("return [window.__alerts, window.__violations]")
        expect(alerts == [] and violations == [], f"alerts {alerts}, violations {violations}")
        problems = console_problems(driver)
        expect(problems == [], f"console: {problems}")

    return checks


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("phase", choices=["basic", "feed", "auth"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--screenshot")
    parser.add_argument("--bulk-prefix", default="bulk #")
    parser.add_argument("--bulk-count", type=int, default=0)
    parser.add_argument("--expiring", default="")
    arguments = parser.parse_args()
    base_url = arguments.base_url.rstrip("/")

    started = time.monotonic()
    driver = start_browser(390, 844)
    print(f"ok - headless Chromium started ({time.monotonic() - started:.1f}s)", flush=True)
    passed = failed = 0
    try:
        if arguments.phase == "basic":
            checks = phase_basic(driver, base_url, arguments.screenshot)
        elif arguments.phase == "auth":
            checks = phase_auth(driver, base_url, os.environ.get("CRUDDUR_TEST_TOKEN", ""))
        else:
            checks = phase_feed(driver, base_url, arguments.bulk_prefix, arguments.bulk_count, arguments.expiring)
        for name, function in checks:
            began = time.monotonic()
            try:
                function()
            except Exception as error:  # noqa: BLE001 — report any failure, then stop
                failed += 1
                picture = tempfile.NamedTemporaryFile(prefix="cruddur-browser-", suffix=".png", delete=False).name
                driver.save_screenshot(picture)
                print(f"not ok - {name}: {type(error).__name__}: {error} (screenshot {picture})", flush=True)
                break
            passed += 1
            print(f"ok - {name} ({time.monotonic() - began:.1f}s)", flush=True)
    finally:
        driver.quit()
    print(f"browser {arguments.phase}: {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
