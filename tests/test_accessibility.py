"""The counsellors' console passes axe-core (Deque's accessibility engine) in a real Chromium.

axe-core runs inside the page on each view a counsellor meets: the login form, the queue with a
child waiting, and the conversation after claiming it. A "serious" or "critical" finding fails the
test; every finding (minor and moderate too) is printed. The same views are also used with the
keyboard alone, and every form control must have an accessible name as Chromium computes it.

axe-core comes from the pinned PyPI package axe-playwright-python (its bundled axe.min.js, MPL-2.0),
so a clean clone needs nothing but the test extra and Debian's Chromium. The console runs as its own
process on the real Redis, under this module's own key prefix (removed at the end); no bot is needed:
the waiting ticket is put in the queue directly.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis.asyncio as aioredis

from bot.handoff.counsellors import Counsellors
from bot.handoff.queue import RedisHandoffQueue, Risk, Ticket
from scripts.local_bot import running_console
from tests.conftest import redis_keys_removed

REDIS_URL = "redis://127.0.0.1:6379/0"
PASSWORD = "correct horse battery staple"
FAILING_IMPACTS = {"serious", "critical"}
# Roles whose elements a counsellor fills in or presses: each needs a name a screen reader can say.
CONTROL_ROLES = {
    "textbox",
    "combobox",
    "listbox",
    "button",
    "checkbox",
    "radio",
    "searchbox",
    "spinbutton",
    "slider",
    "switch",
}


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The console on this module's own Redis keys, a counsellor of desk NG, and two children waiting
    (each test claims one)."""
    prefix = f"test-a11y-{secrets.token_hex(4)}:"
    username = f"amina-{secrets.token_hex(3)}"

    async def prepare() -> None:
        client = aioredis.from_url(REDIS_URL)
        await Counsellors(client, prefix + "console:").add(username, "NG", PASSWORD)
        queue = RedisHandoffQueue(client, prefix + "handoff:")
        ticket = await queue.open(
            Ticket.new(
                "NG",
                "conv-x",
                "sms",
                "NG",
                "en",
                Risk.ASKED,
                "talk_to_human",
                intake={"who": "self"},
                last_messages=("hello",),
            )
        )
        for turn in range(15):  # enough for the conversation to scroll
            await queue.append(ticket, "child" if turn % 2 == 0 else "bot", f"line {turn} of what was said so far")
        await queue.open(
            Ticket.new(
                "NG",
                "conv-y",
                "telegram",
                "NG",
                "en",
                Risk.HARM,
                "sextortion",
                last_messages=("someone has my photos",),
            )
        )
        await client.close()

    env = {
        "REDIS_URL": REDIS_URL,
        "HELPLINE_REDIS_PREFIX": prefix,
        "HELPLINE_HANDOFF_FILE": str(Path(__file__).parent / "handoff_desks.yml"),
    }
    try:
        # A module-wide sync fixture (its tests are sync: HTTP, Playwright's sync API): a short loop of its
        # own for this one-off setup, rather than a module-scoped pytest-asyncio loop kept open beside them.
        asyncio.run(prepare())
        with running_console(tmp_path_factory.mktemp("a11y-console"), env) as base:
            yield {"base": base, "username": username}
    finally:
        redis_keys_removed(prefix)


def axe_findings(page: Any) -> list[dict[str, Any]]:
    """Every axe-core violation on the page as it is now (all rules axe runs by default)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page).response["violations"]


def report(findings: list[dict[str, Any]]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{finding['id']} ({finding['impact']}): {finding['help']}")
        for node in finding["nodes"]:
            lines.append(f"    {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            lines.extend(f"      - {check['message']}" for check in node["any"] + node["all"] + node["none"])
    return "\n".join(lines)


def assert_no_serious_findings(page: Any, view: str) -> None:
    findings = axe_findings(page)
    serious = [f for f in findings if f["impact"] in FAILING_IMPACTS]
    assert not serious, f"axe-core on the {view} view found:\n{report(findings)}"
    if findings:
        print(f"axe-core on the {view} view, minor or moderate only:\n{report(findings)}")


def unnamed_controls(page: Any) -> list[dict[str, Any]]:
    """Visible form controls and buttons whose accessible name (as Chromium computes it) is empty."""
    session = page.context.new_cdp_session(page)
    try:
        nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    finally:
        session.detach()
    unnamed = []
    for node in nodes:
        role = (node.get("role") or {}).get("value")
        name = ((node.get("name") or {}).get("value") or "").strip()
        if role in CONTROL_ROLES and not node.get("ignored") and not name:
            unnamed.append({"role": role, "properties": json.dumps(node.get("properties", []))[:200]})
    return unnamed


def log_in_with_the_keyboard(page: Any, setting: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    page.keyboard.press("Tab")
    expect(page.get_by_label("Username", exact=True)).to_be_focused()
    page.keyboard.type(setting["username"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="Children waiting")
    expect(heading).to_be_visible()
    expect(heading).to_be_focused()  # a screen reader says where the counsellor now is


def test_every_console_view_passes_axe_core_in_chromium(setting, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(setting["base"])
        expect(page.get_by_role("heading", name="Log in")).to_be_visible()
        assert_no_serious_findings(page, "login")
        assert unnamed_controls(page) == []

        page.get_by_label("Username", exact=True).fill(setting["username"])
        page.get_by_label("Password").fill("not the password!!")
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("alert")).to_contain_text("wrong username or password")
        assert_no_serious_findings(page, "login (wrong password)")

        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        row = page.get_by_role("row").filter(has_text="hello")
        expect(row).to_be_visible()
        expect(row).to_contain_text("About: self")
        assert_no_serious_findings(page, "queue")
        assert unnamed_controls(page) == []

        row.get_by_role("button", name="Claim").click()
        expect(page.get_by_label("Your message to the child")).to_be_focused()
        expect(page.get_by_label("Outcome").locator("option")).not_to_have_count(0)
        assert_no_serious_findings(page, "chat")
        assert unnamed_controls(page) == []
    finally:
        page.close()


def test_the_console_works_with_the_keyboard_alone(setting, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(setting["base"])
        log_in_with_the_keyboard(page, setting)
        expect(page.locator("#who")).to_contain_text(setting["username"])
        # Tab from the heading reaches the first waiting child's Claim button; Enter claims it.
        claim = page.locator("#queue-rows button").first
        expect(claim).to_be_visible()
        page.keyboard.press("Tab")
        expect(claim).to_be_focused()
        page.keyboard.press("Enter")
        reply = page.get_by_label("Your message to the child")
        expect(reply).to_be_focused()
        assert unnamed_controls(page) == []
        # Backwards: the prepared replies, then the conversation itself (focusable, so arrow keys scroll it).
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_label("Prepared replies (sent in the child's language)")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("log", name="Messages, oldest first")).to_be_focused()
        # Forwards: the message, Send, the outcome, and closing; then focus is back on the queue.
        page.keyboard.press("Tab")
        page.keyboard.press("Tab")
        expect(reply).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Send")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_label("Outcome")).to_be_focused()
        page.keyboard.press("Tab")
        expect(page.get_by_role("button", name="Close the conversation")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#chat-view")).to_be_hidden()
        expect(page.get_by_role("heading", name="Children waiting")).to_be_focused()
    finally:
        page.close()
