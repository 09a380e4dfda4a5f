"""The web chat (channels/web.py): a child in a browser talks to the bot, is handed to a counsellor,
and they write both ways; the page itself in Chromium; bad requests refused with a reason. The
whole bot, the console as its own process, Redis for real."""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
from typing import Any, Optional

import pytest
import redis

from bot.conversation.dialogue import Dialogue
from bot.privacy.sender_ids import SenderIds
from channels.rest import MAX_BODY_BYTES
from scripts.local_bot import http
from tests.conftest import CHANNEL_ENV
from tests.console_client import Counsellor
from tests.numbers import emergency, gives, helpline, helpline_number
from tests.test_accessibility import assert_no_serious_findings, unnamed_controls
from tests.test_handoff_channels import eventually, said_to_counsellor

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def texts():
    return Dialogue.load().texts


class WebChild:
    """A child's web chat, as the page talks to the server."""

    def __init__(self, bot: Any, token: Optional[str] = None) -> None:
        self.base = f"{bot.base_url}/webhooks/web"
        self.token = token or secrets.token_hex(32)
        self.cursor = "0-0"

    @property
    def sender(self) -> str:
        return SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("web", self.token)

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    def say(self, text: str, **fields: Any) -> dict[str, Any]:
        body = json.dumps({"message": text, "metadata": {"country": "NG", "language": "en"}, **fields}).encode()
        status, raw = http("POST", f"{self.base}/webhook", body, self.headers())
        assert status == 200, raw
        return json.loads(raw)

    def inbox(self) -> list[dict[str, Any]]:
        """What the server wrote since the last look (waits up to the channel's poll time)."""
        status, raw = http("GET", f"{self.base}/inbox?after={self.cursor}", None, self.headers())
        assert status == 200, raw
        answer = json.loads(raw)
        self.cursor = answer["cursor"]
        return answer["messages"]


def texts_of(reply: dict[str, Any]) -> str:
    return " ".join(m["text"] for m in reply["messages"])


def said(reply: dict[str, Any]) -> list[str]:
    return [m["text"] for m in reply["messages"]]


def gives_helpline(text: str, country: str) -> bool:
    """``text`` names ``country``'s helpline and gives its number to call."""
    return helpline(country).name in text and gives(text, helpline_number(country))


def claimed(
    bot: Any, console: str, accounts: dict[str, str], asking: str
) -> tuple[Counsellor, WebChild, dict[str, Any]]:
    """A web child who wrote ``asking`` and the counsellor of desk NG who claimed their ticket."""
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    child = WebChild(bot)
    child.say(asking)
    ticket = eventually(lambda: amina.waiting_with(asking))[0]
    assert amina.post(f"/api/tickets/{ticket['id']}/claim")[0] == 200
    return amina, child, ticket


def test_a_web_child_and_a_counsellor_write_both_ways(bot, console, accounts, texts):
    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    child = WebChild(bot)
    hello = said(child.say("hi"))  # the bot answers the web child in the HTTP reply
    assert hello[:2] == [texts.get("privacy_notice", "en", days=30), texts.get("greet", "en")], hello
    connecting = child.say("i want to talk to a real person please")
    assert "Test desk NG" in texts_of(connecting)
    ticket = eventually(lambda: amina.waiting_with("i want to talk to a real person please"))[0]
    assert ticket["channel"] == "web" and child.token not in json.dumps(ticket)

    assert amina.post(f"/api/tickets/{ticket['id']}/claim")[0] == 200
    assert amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Hello, I'm Amina. I'm listening."})[0] == 200
    assert "Hello, I'm Amina. I'm listening." in [m["text"] for m in eventually(child.inbox)]

    assert child.say("/restart")["messages"] == []  # words for the counsellor, not a command
    assert child.say("my cousin keeps sending me messages")["messages"] == []  # the bot stays out
    eventually(lambda: said_to_counsellor(amina, ticket["id"], "my cousin keeps sending me messages"))
    assert said_to_counsellor(amina, ticket["id"], "restart")

    assert amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})[0] == 200
    assert texts.get("handoff_ended", "en") in [m["text"] for m in eventually(child.inbox)]
    again = child.say("what is the helpline number")  # the bot answers again after the counsellor closes
    assert gives_helpline(texts_of(again), "NG"), again


def test_a_waiting_page_gets_the_counsellors_message_as_soon_as_it_is_written(bot, console, accounts):
    amina, child, ticket = claimed(bot, console, accounts, "can i talk to a counsellor")
    arrived: list[float] = []

    def read_until_the_reply() -> None:  # as the page does: one long poll after another
        while "Are you safe right now?" not in [m["text"] for m in child.inbox()]:
            pass
        arrived.append(time.monotonic())

    reader = threading.Thread(target=read_until_the_reply, daemon=True)
    reader.start()
    time.sleep(0.5)  # the page is now waiting on the server
    written = time.monotonic()
    amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Are you safe right now?"})
    reader.join(timeout=10)
    assert arrived and arrived[0] - written < 3  # pushed through Redis, not found on a later round of polling
    amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})


def test_another_token_cannot_read_or_write_the_conversation(bot, console, accounts):
    amina, child, ticket = claimed(bot, console, accounts, "i need to talk to someone real")
    stranger = WebChild(bot)
    amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Only for the first child."})
    assert "Only for the first child." in [m["text"] for m in eventually(child.inbox)]
    assert stranger.inbox() == []
    stranger.say("hello")
    time.sleep(0.5)
    assert not said_to_counsellor(amina, ticket["id"], "hello")
    amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})


def test_a_repeated_message_id_is_handled_once(bot):
    child = WebChild(bot)
    first = child.say("hello", id="m-1")
    again = child.say("hello", id="m-1")
    assert first["messages"] and again == {"messages": [], "erased": False, "repeated": True}


def test_an_empty_message_gets_a_kind_reply(bot, texts):
    reply = said(WebChild(bot).say(""))
    assert reply[:2] == [texts.get("privacy_notice", "en", days=30), texts.get("empty_message", "en")], reply
    assert gives_helpline(" ".join(reply), "NG")  # a first message: both numbers of the child's country
    assert texts.get("emergency_known", "en", emergency=emergency("NG")) in reply


@pytest.mark.parametrize(
    "headers, body, status, words",
    [
        ({}, b'{"message": "hi"}', 401, "Bearer"),
        ({"Authorization": "Bearer short"}, b'{"message": "hi"}', 401, "Bearer"),
        ({"Authorization": "Basic " + "a" * 40}, b'{"message": "hi"}', 401, "Bearer"),
        (None, b"\xff\xfe\x00binary", 400, "UTF-8 JSON"),
        (None, b"{not json", 400, "JSON"),
        (None, b"[1, 2]", 400, "object"),
        (None, b'{"message": 5}', 400, "message"),
        (None, b'{"message": "hi", "metadata": {"country": "Narnia"}}', 400, "metadata.country"),
        (None, b'{"message": "hi", "id": "not an id!"}', 400, "'id'"),
        (None, b" " * (MAX_BODY_BYTES + 1), 413, "larger"),
    ],
)
def test_bad_messages_are_refused_with_a_reason(bot, headers, body, status, words):
    child = WebChild(bot)
    got, raw = http("POST", f"{child.base}/webhook", body, child.headers() if headers is None else headers)
    assert got == status and words in json.loads(raw)["error"]


def test_a_bad_inbox_request_is_refused_with_a_reason(bot):
    child = WebChild(bot)
    assert http("GET", f"{child.base}/inbox", None, {})[0] == 401
    status, raw = http("GET", f"{child.base}/inbox?after=latest", None, child.headers())
    assert status == 400 and "after" in json.loads(raw)["error"]


def test_delete_my_data_on_the_web_leaves_nothing_keyed_to_the_child(bot, console, accounts):
    amina, child, ticket = claimed(bot, console, accounts, "i want a counsellor now")
    amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "I'm here for you."})
    eventually(child.inbox)
    amina.post(f"/api/tickets/{ticket['id']}/handback")
    asked = child.say("delete my data")
    yes = next(b for m in asked["messages"] for b in m["buttons"] if b["title"] == "Yes")  # a button on the page
    assert asked["erased"] is False
    done = child.say(yes["payload"])
    assert done["erased"] is True and said(done) == [Dialogue.load().texts.get("deleted", "en")]
    client = redis.Redis.from_url(CHANNEL_ENV["REDIS_URL"], decode_responses=True)
    try:

        def nothing_left() -> bool:
            keys = list(client.scan_iter(match=f"{CHANNEL_ENV['HELPLINE_REDIS_PREFIX']}*{child.sender}*"))
            return (
                not keys
                and client.hgetall(f"{CHANNEL_ENV['HELPLINE_REDIS_PREFIX']}handoff:ticket:{ticket['id']}") == {}
            )

        eventually(nothing_left, timeout_s=10)
    finally:
        client.close()


def test_the_page_in_chromium_chats_hands_off_and_shows_a_counsellors_html_as_text(bot, console, accounts, browser):
    from playwright.sync_api import expect

    amina = Counsellor(console, accounts["NG"])
    assert amina.login() == 200
    page = browser.new_page(viewport={"width": 400, "height": 800})  # a phone-sized window
    try:
        page.goto(f"{bot.base_url}/webhooks/web/chat?lang=en&country=NG")
        expect(page.get_by_role("heading", name="Chat with a helpline")).to_be_visible()
        assert_no_serious_findings(page, "web chat")
        assert unnamed_controls(page) == []
        box = page.get_by_label("Your message")
        box.focus()
        page.keyboard.type("please let me talk to a person i am scared")
        page.keyboard.press("Enter")
        expect(page.get_by_text("Test desk NG").first).to_be_visible(timeout=15_000)
        ticket = eventually(lambda: amina.waiting_with("please let me talk to a person i am scared"))[0]
        amina.post(f"/api/tickets/{ticket['id']}/claim")
        amina.post(
            f"/api/tickets/{ticket['id']}/reply", {"text": "<b>Hi</b><script>window.hacked=1</script> I'm Amina."}
        )
        expect(page.get_by_text("<b>Hi</b><script>window.hacked=1</script> I'm Amina.")).to_be_visible(timeout=15_000)
        assert page.evaluate("window.hacked") is None
        box.fill("thank you")
        page.get_by_role("button", name="Send").click()
        eventually(lambda: said_to_counsellor(amina, ticket["id"], "thank you"))
        assert_no_serious_findings(page, "web chat with messages")
        on_screen = page.locator("#messages li").all_inner_texts()
        page.reload()  # a reload keeps the chat (the tab's sessionStorage), and the counsellor
        expect(page.locator("#messages li")).to_have_count(len(on_screen))
        assert page.locator("#messages li").all_inner_texts() == on_screen
        amina.post(f"/api/tickets/{ticket['id']}/reply", {"text": "Still here after your reload."})
        expect(page.get_by_text("Still here after your reload.")).to_be_visible(timeout=15_000)
        amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})

        old_token = page.evaluate("sessionStorage.getItem('helpline-chat-token')")
        page.route(
            "https://www.google.com/**",
            lambda route: route.fulfill(body="<title>Google</title>", content_type="text/html"),
        )
        page.get_by_role("button", name="Leave this page quickly").click()
        page.wait_for_url("https://www.google.com/**")
        page.go_back()  # the chat left the history: Back does not bring it up again
        assert "/webhooks/web/chat" not in page.url
        page.goto(f"{bot.base_url}/webhooks/web/chat?lang=en&country=NG")  # a new, empty chat
        expect(page.get_by_role("heading", name="Chat with a helpline")).to_be_visible()
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") not in (None, old_token)
        expect(page.locator("#messages li")).to_have_count(0)
    finally:
        page.close()


def test_the_page_speaks_the_childs_language_and_carries_their_helpline(bot, texts):
    status, raw = http("GET", f"{bot.base_url}/webhooks/web/chat?lang=fr&country=FR")
    page = raw.decode()
    assert status == 200 and '<html lang="fr" dir="ltr">' in page
    assert texts.get("web_leave", "fr") in page.replace("&#x27;", "'")
    # France's helpline (Allô Enfance en Danger) and emergency number, in French, from the routing table: what
    # to call even if the chat fails.
    stuck = html.unescape(page.split("<footer>")[1])
    assert texts.get("web_if_stuck", "fr") in stuck and gives_helpline(stuck, "FR"), stuck
    assert texts.get("emergency_known", "fr", emergency=emergency("FR")) in stuck
    status, raw = http("GET", f"{bot.base_url}/webhooks/web/chat", None, {"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"})
    assert '<html lang="ar" dir="rtl">' in raw.decode()
    status, raw = http("GET", f"{bot.base_url}/webhooks/web/chat?lang=xx&country=%3Cscript%3E")
    assert (
        status == 200
        and '<html lang="en"' in raw.decode()
        and "<script>" not in raw.decode().split("<footer>")[1].split("<script src")[0]
    )


def test_delete_my_data_on_the_page_clears_the_screen_and_starts_a_new_chat(bot, browser, texts):
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 400, "height": 800})
    try:
        page.goto(f"{bot.base_url}/webhooks/web/chat?lang=en&country=KE")
        page.get_by_label("Your message").fill("my name is Zawadi and kids at school bully me")
        page.keyboard.press("Enter")
        expect(page.locator("#messages li.bot").first).to_be_visible(timeout=15_000)
        old_token = page.evaluate("sessionStorage.getItem('helpline-chat-token')")
        page.get_by_label("Your message").fill("delete my data")
        page.keyboard.press("Enter")
        page.locator("#messages li.bot").get_by_role("button", name="Yes").last.click()  # the page's button
        done = texts.get("deleted", "en")
        expect(page.locator("#messages li")).to_have_text([done], timeout=15_000)
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") != old_token
        assert "Zawadi" not in page.evaluate("JSON.stringify(sessionStorage)")
    finally:
        page.close()
