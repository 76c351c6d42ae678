"""The dashboard in a real Chromium (Playwright, Debian's /usr/bin/chromium): two people
take a model from dev to staging, the self-approval is refused on the page, the audit log
verifies; sessions, CSRF and the pages' own safety; screenshots for a person to look at.

Screenshots go to test-output/screenshots/ (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.server.conftest import SCREENSHOTS, Server, fresh_ip

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield b
        finally:
            b.close()


class Person:
    """One person's browser context: its own cookies, its own client address."""

    def __init__(self, browser: Browser, server: Server, who: str) -> None:
        self.server = server
        self.who = who
        self.context: BrowserContext = browser.new_context(
            base_url=server.url,
            extra_http_headers={"X-Forwarded-For": fresh_ip()},
            viewport={"width": 1280, "height": 900},
        )
        self.page: Page = self.context.new_page()
        self.console_errors: list[str] = []
        # a refusal page is served with its 4xx status, which Chromium notes as a failed
        # load; anything else (a CSP violation above all) is a fault
        self.page.on(
            "console",
            lambda m: (
                self.console_errors.append(m.text)
                if m.type == "error" and "Failed to load resource" not in m.text
                else None
            ),
        )

    def login(self) -> None:
        self.page.goto("/login")
        self.page.fill("#token", self.server.project.tokens[self.who])
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{self.server.url}/")
        assert self.who in self.page.inner_text("header")

    def goto(self, path: str) -> Page:
        self.page.goto(path)
        self.assert_safe()
        return self.page

    def assert_safe(self) -> None:
        """No script on the page, no CSP violation, no token on it."""
        assert self.page.locator("script").count() == 0, self.page.url
        assert self.console_errors == [], self.console_errors
        html = self.page.content()
        for token in self.server.project.tokens.values():
            assert token.split("_", 2)[2] not in html

    def shot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def people(browser: Browser, shared_server: Server) -> Iterator[dict[str, Person]]:
    opened: dict[str, Person] = {}

    class Opener(dict[str, Person]):
        def __missing__(self, who: str) -> Person:
            opened[who] = self[who] = Person(browser, shared_server, who)
            return opened[who]

    yield Opener()
    for person in opened.values():
        person.close()


def _register(server: Server, who: str, name: str) -> None:
    path = server.project.new_file(f"{name}.bin")
    with server.client(who) as c:
        r = c.post("/api/v1/artifacts", json={"kind": "model", "name": name, "path": path})
    assert r.status_code == 201, r.text


def test_two_people_take_a_model_to_staging(
    shared_server: Server, people: dict[str, Person]
) -> None:
    _register(shared_server, "rita", "churn-model")
    rita = people["rita"]
    rita.goto("/login")
    rita.shot("01-login")
    rita.login()
    rita.assert_safe()
    assert "churn-model" in rita.page.inner_text(".stages")
    rita.shot("02-registry")

    # rita asks for staging...
    page = rita.goto("/artifacts/churn-model")
    page.fill("#note", "retrained on November data")
    page.click("text=Request the next stage")
    assert re.search(r"request \d+ opened: dev → staging", page.inner_text("main"))
    assert "1 sign-off from security-reviewer (have none)" in page.inner_text("main")
    # ...and may not sign off her own request, and the page says why
    page.click("button.approve")
    rita.assert_safe()
    text = page.inner_text("main")
    assert "The gate refused" in text
    assert "rita requested this promotion and cannot sign it off" in text
    assert "separation of duties" in text
    rita.shot("03-self-approval-refused")

    # sam, a security reviewer, finds it in his inbox with its evidence and approves
    sam = people["sam"]
    sam.login()
    page = sam.goto("/requests")
    card = page.locator("section.request", has_text="churn-model")
    assert "Asked by rita" in card.inner_text()
    assert "retrained on November data" in card.inner_text()
    assert "Not yet: 1 thing missing" in card.inner_text()
    sam.shot("04-pending-requests")
    # an auditor reads the same request but is offered no button it may not press
    ivy = people["ivy"]
    ivy.login()
    ivy_card = ivy.goto("/requests").locator("section.request", has_text="churn-model")
    assert ivy_card.locator("button").count() == 0
    assert "let you read this request" in ivy_card.inner_text()
    card.locator("input[name=comment]").first.fill("scanned, provenance checked")
    card.locator("button.approve").click()
    assert "approved by sam" in page.inner_text("main")
    assert "it may be promoted" in page.inner_text("main")
    sam.assert_safe()

    # rita promotes; the artifact page shows the history with its approver
    page = rita.goto("/artifacts/churn-model")
    page.click("button.promote")
    rita.assert_safe()
    assert "is now in staging" in page.inner_text(".notice")
    assert "is in staging" in page.inner_text("main")
    history = page.locator("table").last.inner_text()
    assert "dev\tstaging\trita\tsam" in history
    rita.shot("05-artifact")

    page = rita.goto("/")
    assert "churn-model" in page.locator("section.stage", has_text="staging").inner_text()

    # the audit log verifies, and records both the refusal and the promotion
    page = sam.goto("/audit")
    assert page.inner_text(".banner").startswith("Verified")
    log = page.inner_text("table.log")
    assert "signoff.refused" in log
    assert "promotion.completed" in log
    sam.shot("06-audit-log")

    # the threat model with its data-flow diagram
    page = sam.goto("/threat-model")
    assert page.locator(".diagram svg").count() == 1
    assert page.locator(".diagram svg g.node").count() >= 3
    sam.shot("07-threat-model")

    page = sam.goto("/monitors")
    sam.shot("08-monitors")

    # the server's own output never shows a token
    output = shared_server.output()
    for token in shared_server.project.tokens.values():
        assert token.split("_", 2)[2] not in output


def test_session_cookie_csrf_and_logout(shared_server: Server, people: dict[str, Person]) -> None:
    bob = people["bob"]
    bob.login()
    [cookie] = [c for c in bob.context.cookies() if c["name"] == "custodes_session"]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["value"] not in shared_server.project.tokens["bob"]

    page = bob.goto("/artifacts/m")
    csrf = page.locator("form input[name=csrf]").first.get_attribute("value")
    assert csrf
    request = bob.context.request
    url = f"{shared_server.url}/artifacts/m/request"
    # no csrf field, a wrong one, or a good one from another origin: all refused
    r = request.post(url, form={"note": "x"}, max_redirects=0)
    assert r.status == 422
    r = request.post(url, form={"note": "x", "csrf": "forged"}, max_redirects=0)
    assert r.status == 400
    assert "CSRF" in r.text()
    r = request.post(
        url,
        form={"note": "x", "csrf": csrf},
        headers={"Origin": "https://evil.example"},
        max_redirects=0,
    )
    assert r.status == 400
    assert "cross-origin" in r.text()
    with shared_server.client("ivy") as c:
        assert c.get("/api/v1/artifacts/m/status").json()["request"] is None
    # logout also needs the token
    r = request.post(f"{shared_server.url}/logout", form={"csrf": "forged"}, max_redirects=0)
    assert r.status == 400

    # a real logout ends the session: the old cookie no longer opens a page
    page.click("header button[type=submit]")
    page.wait_for_url(f"{shared_server.url}/login")
    assert not [c for c in bob.context.cookies() if c["name"] == "custodes_session"]
    stale = httpx.get(
        f"{shared_server.url}/requests",
        cookies={"custodes_session": cookie["value"]},
        headers={"X-Forwarded-For": fresh_ip()},
        follow_redirects=False,
    )
    assert stale.status_code == 303
    assert stale.headers["location"] == "/login"
    page.goto("/requests")
    assert page.url.endswith("/login")


def test_a_bad_token_stays_on_the_login_page(
    shared_server: Server, people: dict[str, Person]
) -> None:
    mallory = people["mallory-is-not-a-person"]
    page = mallory.goto("/login")
    page.fill("#token", "cst_1_" + "Z" * 43)
    page.click("button[type=submit]")
    assert "authentication failed" in page.inner_text("[role=alert]")
    assert mallory.context.cookies() == []
    # nor may another site sign a browser in (login CSRF), even with a good token
    r = httpx.post(
        f"{shared_server.url}/login",
        data={"token": shared_server.project.tokens["bob"]},
        headers={"Origin": "https://evil.example", "X-Forwarded-For": fresh_ip()},
        follow_redirects=False,
    )
    assert r.status_code == 400
    assert "set-cookie" not in r.headers
    page.goto("/")
    assert page.url.endswith("/login")
    mallory.assert_safe()
