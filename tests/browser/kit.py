"""What every console flow needs: the browser, signing in, screenshots, reading a table, and
asking the Rust test for what only it can do (the database, the command line).

The Rust test writes one JSON line on stdin first (the admin listener's origin, the credentials,
what it wrote to the audit log), then answers each `harness> {...}` line this prints with
one JSON line. Playwright drives Debian's chromium: nothing here downloads a browser.
"""

import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

try:
    from playwright.sync_api import Page, expect, sync_playwright
except ImportError as e:
    sys.exit(f"{e}: run scripts/deps.sh, which installs Playwright into .venv")

# What the Rust test reads as a question rather than as output.
ASK = "harness> "


class Console:
    """One browser context on the console, shared by the flows in order."""

    def __init__(self, setup, page: Page):
        self.setup = setup
        self.page = page
        self.context = page.context
        self.origin = setup["origin"]
        self.screens = Path(setup["screens"])

    def url(self, path):
        return self.origin + path

    def goto(self, path):
        response = self.page.goto(self.url(path))
        assert response is not None, f"no answer for {path}"
        return response

    def cred(self, who):
        return self.setup["credentials"][who]

    def shot(self, name):
        """A full-page screenshot, named so that a run's pictures sort in the order taken."""
        self.page.screenshot(path=self.screens / f"{name}.png", full_page=True)

    def sign_in(self, who=None, access_key=None, secret_key=None):
        """Fills and sends the sign-in form; the page then shows whatever the console answered."""
        if who is not None:
            access_key, secret_key = self.cred(who)["ak"], self.cred(who)["sk"]
        self.goto("/console/")
        self.page.get_by_label("Access key").fill(access_key)
        self.page.get_by_label("Secret key").fill(secret_key)
        self.page.get_by_role("button", name="Sign in").click()

    def refusal(self, why):
        """The page shows a refusal that says `why`."""
        expect(self.page.get_by_role("alert"), f"a refusal saying {why!r}").to_contain_text(why)

    def signed_in_as(self, name):
        expect(self.page.locator("header"), f"signed in as {name}").to_contain_text(
            f"Signed in as {name}"
        )

    def on_sign_in_form(self):
        expect(self.page.get_by_label("Access key"), "the sign-in form").to_be_visible()
        assert self.page.url == self.url("/console/"), f"sign-in form at {self.page.url}"

    def table(self, page=None):
        """The page's table as dicts by column header (its rows as shown)."""
        page = page or self.page
        head = page.locator("thead th").all_inner_texts()
        rows = page.locator("tbody tr").evaluate_all(
            "rows => rows.map(r => [...r.cells].map(c => c.innerText))"
        )
        return [dict(zip(head, cells)) for cells in rows]

    def query(self):
        """The current URL's query, decoded, without the empty fields a form sends."""
        return {k: v for k, v in parse_qsl(urlsplit(self.page.url).query) if v}

    def cookie(self, name):
        return next((c for c in self.context.cookies() if c["name"] == name), None)

    def csrf(self):
        return self.page.locator("input[name=csrf]").first.get_attribute("value")

    def ask(self, action, **args):
        """Has the Rust test do `action` (it owns the database and the command line)."""
        print(ASK + json.dumps({"do": action, **args}), flush=True)
        answer = json.loads(sys.stdin.readline() or "null")
        assert answer and "error" not in answer, f"the harness could not {action}: {answer}"
        return answer.get("value")


def run(flows):
    """Runs `flows` in order on one page; a failing flow leaves a screenshot of where it was."""
    setup = json.loads(sys.stdin.readline())
    screens = Path(setup["screens"])
    screens.mkdir(parents=True, exist_ok=True)
    # Only this run's pictures: a failure's screenshot from an earlier run would mislead.
    for old in screens.glob("*.png"):
        old.unlink()
    with sync_playwright() as p:
        # Root has no user namespaces for chromium's sandbox; the test's pages are our own.
        browser = p.chromium.launch(
            executable_path=setup["chromium"],
            headless=True,
            chromium_sandbox=os.geteuid() != 0,
        )
        # A viewer far from both UTC and the vendor's GMT+08:00: times must show in this zone.
        context = browser.new_context(
            accept_downloads=True,
            viewport={"width": 1280, "height": 800},
            timezone_id="America/New_York",
        )
        # A failing step fails in seconds, not after Playwright's default half minute.
        context.set_default_timeout(5_000)
        c = Console(setup, context.new_page())
        for flow in flows:
            started = time.monotonic()
            try:
                flow(c)
            except BaseException:
                print(f"flow {flow.__name__} FAILED at {c.page.url}", flush=True)
                try:
                    c.shot(f"failed-{flow.__name__}")
                except Exception as e:  # the failure itself matters more than its picture
                    print(f"(no screenshot: {e})", flush=True)
                raise
            print(f"flow {flow.__name__}: ok ({time.monotonic() - started:.2f}s)", flush=True)
        browser.close()
