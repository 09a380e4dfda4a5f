"""The counsellors' API: log in, see only your helpline's queue, claim, write to the child, close.

The console runs as its own process on the real Redis, next to the whole bot with its channels;
the child writes by SMS (fake Twilio), the counsellor through the API.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import sys
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from typing import Any, Iterator, Optional

import pytest
import redis.asyncio as aioredis

from bot.counsellors import Counsellors
from scripts.local_bot import free_port, http, start_process
from tests.conftest import CHANNEL_ENV
from tests.test_channels import post_twilio, sms

pytestmark = pytest.mark.rasa
PASSWORD = "correct horse battery staple"


class Counsellor:
    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.cookie: Optional[str] = None
        self.csrf = ""

    def login(self, password: str = PASSWORD) -> int:
        status, raw, headers = _call("POST", f"{self.base}/api/login", {"username": self.username, "password": password})
        if status == 200:
            self.cookie = SimpleCookie(headers.get("Set-Cookie", "")).get("helpline_session").value
            self.csrf = json.loads(raw)["csrf"]
        return status

    def get(self, path: str) -> tuple[int, Any]:
        status, raw, _ = _call("GET", self.base + path, None, self._headers(csrf=False))
        return status, json.loads(raw)

    def post(self, path: str, data: Optional[dict] = None, csrf: bool = True) -> tuple[int, Any]:
        status, raw, _ = _call("POST", self.base + path, data or {}, self._headers(csrf))
        return status, json.loads(raw)

    def _headers(self, csrf: bool) -> dict[str, str]:
        headers = {"Cookie": f"helpline_session={self.cookie}"} if self.cookie else {}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers


def _call(method: str, url: str, data: Optional[dict], headers: Optional[dict] = None) -> tuple[int, bytes, dict]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read(), dict(error.headers)


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("console") / "console.log"
    env = {**os.environ, "REDIS_URL": CHANNEL_ENV["REDIS_URL"], "HELPLINE_REDIS_PREFIX": CHANNEL_ENV["HELPLINE_REDIS_PREFIX"],
           "CONSOLE_PORT": str(port)}
    process = start_process([sys.executable, "-m", "console"], log, env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if http("GET", f"http://127.0.0.1:{port}/api/queue")[0] == 401:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError(log.read_text())
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.fixture(scope="module")
def accounts() -> dict[str, str]:
    names = {"NG": f"amina-{secrets.token_hex(3)}", "KE": f"baraka-{secrets.token_hex(3)}"}

    async def create() -> None:
        client = aioredis.from_url(CHANNEL_ENV["REDIS_URL"])
        for helpline, name in names.items():
            await Counsellors(client, CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "console:").add(name, helpline, PASSWORD)
        await client.close()

    asyncio.run(create())
    return names


def test_login_needs_the_right_password_and_pages_need_a_session(console, accounts):
    assert Counsellor(console, accounts["NG"]).login("wrong password!!") == 401
    assert Counsellor(console, "nobody-here").login() == 401
    assert Counsellor(console, accounts["NG"]).get("/api/queue")[0] == 401


def test_a_counsellor_takes_an_sms_childs_conversation_and_they_talk_both_ways(bot, console, accounts, twilio_api):
    amina, baraka = Counsellor(console, accounts["NG"]), Counsellor(console, accounts["KE"])
    assert amina.login() == 200 and baraka.login() == 200
    phone = "+23480" + "".join(random.choices("0123456789", k=8))
    post_twilio(bot, "sms", sms("i need to talk to a real person now", phone))
    twilio_api.messages_to(phone, count=2)

    status, queue = amina.get("/api/queue")
    mine = [t for t in queue["waiting"] if "i need to talk to a real person now" in t["last_messages"]]
    assert status == 200 and len(mine) == 1 and mine[0]["channel"] == "sms" and mine[0]["language"] == "en"
    ticket = mine[0]["id"]
    assert phone not in json.dumps(queue) and phone.lstrip("+") not in json.dumps(queue)  # addresses stay masked

    # Another helpline's counsellor neither sees nor touches it.
    assert all(t["id"] != ticket for t in baraka.get("/api/queue")[1]["waiting"])
    assert baraka.post(f"/api/tickets/{ticket}/claim")[0] == 404
    assert baraka.get(f"/api/tickets/{ticket}/messages")[0] == 404

    assert amina.post(f"/api/tickets/{ticket}/claim", csrf=False)[0] == 401  # no CSRF token, no change
    status, claimed = amina.post(f"/api/tickets/{ticket}/claim")
    assert status == 200 and claimed["ticket"]["state"] == "claimed"
    assert amina.post(f"/api/tickets/{ticket}/claim")[0] == 409

    before = len(twilio_api.messages_to(phone, timeout_s=0.1))
    assert amina.post(f"/api/tickets/{ticket}/reply", {"text": "Hi, I'm Amina from the helpline. Are you safe right now?"})[0] == 200
    assert twilio_api.messages_to(phone, count=before + 1)[-1] == "Hi, I'm Amina from the helpline. Are you safe right now?"

    post_twilio(bot, "sms", sms("yes <script>alert(1)</script> im at home", phone))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        said = amina.get(f"/api/tickets/{ticket}/messages")[1]["messages"]
        if said and said[-1]["author"] == "child":
            break
        time.sleep(0.2)
    assert said[-1] == {"author": "child", "text": "yes <script>alert(1)</script> im at home"}  # kept as text

    status, done = amina.post(f"/api/tickets/{ticket}/close", {"outcome": "counselling given"})
    assert status == 200 and done["ticket"]["state"] == "closed"
    post_twilio(bot, "sms", sms("thank you bye", phone))  # the bot answers again
    assert len(twilio_api.messages_to(phone, count=before + 2)) >= before + 2
    assert amina.post(f"/api/tickets/{ticket}/reply", {"text": "too late"})[0] == 409


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by .ci/run; Playwright drives it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def test_the_console_in_a_real_browser(bot, console, accounts, twilio_api):
    from playwright.sync_api import expect, sync_playwright

    phone = "+23480" + "".join(random.choices("0123456789", k=8))
    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(console)
            page.get_by_label("Username", exact=True).fill(accounts["NG"])
            page.get_by_label("Password").fill(PASSWORD)
            page.keyboard.press("Enter")  # keyboard only
            expect(page.get_by_role("heading", name="Children waiting")).to_be_visible()

            # The child writes after the page is open: the ticket appears without reloading.
            post_twilio(bot, "sms", sms("i want to talk to a person <b>now</b>", phone))
            row = page.get_by_role("row").filter(has_text="<b>now</b>")  # shown as text, not as bold
            expect(row).to_be_visible(timeout=20_000)
            row.get_by_role("button").click()
            reply = page.get_by_label("Your message to the child")
            expect(reply).to_be_focused()
            reply.fill("Hi, I'm Amina from the helpline. I'm here.")
            page.get_by_role("button", name="Send").click()
            assert twilio_api.messages_to(phone, count=3)[-1] == "Hi, I'm Amina from the helpline. I'm here."

            post_twilio(bot, "sms", sms("<script>alert('x')</script><img src=x onerror=alert(1)>", phone))
            expect(page.locator("#messages")).to_contain_text("<script>alert('x')</script><img src=x onerror=alert(1)>", timeout=20_000)
            assert page.locator("#messages img").count() == 0 and dialogs == []

            page.get_by_label("Outcome").select_option("Counselling given")
            page.get_by_role("button", name="Close the conversation").click()
            expect(page.locator("#chat-view")).to_be_hidden()
        finally:
            browser.close()
