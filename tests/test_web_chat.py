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
from bot.privacy.chat_tokens import ChatTokens
from bot.privacy.sender_ids import SenderIds
from bot.wiring.services import Services
from bot.wiring.settings import Settings
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
    """A child's web chat, as the page talks to the server: no token until the first answer gives one."""

    def __init__(self, bot: Any, token: Optional[str] = None) -> None:
        self.base = f"{bot.base_url}/webhooks/web"
        self.token = token
        self.cursor = "0-0"

    @property
    def sender(self) -> str:
        assert self.token is not None
        return SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("web", self.token)

    def headers(self) -> dict[str, str]:
        return {"Content-Type": "application/json", **({"Authorization": f"Bearer {self.token}"} if self.token else {})}

    def say(self, text: str, **fields: Any) -> dict[str, Any]:
        body = json.dumps({"message": text, "metadata": {"country": "NG", "language": "en"}, **fields}).encode()
        status, raw = http("POST", f"{self.base}/webhook", body, self.headers())
        assert status == 200, raw
        answer = json.loads(raw)
        self.token = answer["token"]
        return answer

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
    stranger.say("hello")
    assert stranger.token != child.token and stranger.inbox() == []
    time.sleep(0.5)
    assert not said_to_counsellor(amina, ticket["id"], "hello")
    amina.post(f"/api/tickets/{ticket['id']}/close", {"outcome": "counselling_given"})


def test_the_first_message_gets_a_token_the_server_issued_and_the_next_ones_keep_it(bot, texts):
    child = WebChild(bot)
    first = child.say("hi")
    assert tokens().issued(first["token"]) and len(first["token"]) == 87
    assert said(first)[0] == texts.get("privacy_notice", "en", days=30)  # a new conversation's first reply
    again = child.say("what is the helpline number")
    assert again["token"] == first["token"]
    assert texts.get("privacy_notice", "en", days=30) not in said(again)  # the same conversation goes on


def tokens() -> ChatTokens:
    """The tokens the bot under test issues: its key, built as its own process builds it."""
    return Services(Settings.from_environ(CHANNEL_ENV)).chat_tokens


def forged(token: str) -> str:
    """``token`` with one letter of its random part changed: its tag no longer fits."""
    return ("B" if token[0] == "A" else "A") + token[1:]


@pytest.mark.parametrize(
    "make_token",
    [
        lambda real: "z" * 32,  # chosen by the client
        lambda real: secrets.token_hex(32),  # a random one, as pages made them before
        forged,
        lambda real: real.split(".")[0] + "." + real.split(".")[0],  # a tag made up
        lambda real: ChatTokens(secrets.token_bytes(32)).issue(),  # issued with another key
        lambda real: real[:-1],
    ],
    ids=["chosen", "random", "forged", "made-up-tag", "other-key", "cut-short"],
)
def test_a_token_the_server_did_not_issue_gets_a_new_conversation_never_someone_elses(bot, texts, make_token):
    owner = WebChild(bot)
    owner.say("hi")
    owner.say("i am from nigeria")
    intruder = WebChild(bot, token=make_token(owner.token))
    status, raw = http(
        "POST",
        f"{intruder.base}/webhook",
        json.dumps({"message": "hi", "metadata": {"country": "NG", "language": "en"}}).encode(),
        {"Authorization": f"Bearer {intruder.token}", "Content-Type": "application/json"},
    )
    answer = json.loads(raw)
    assert status == 200 and answer["token"] not in (owner.token, intruder.token) and tokens().issued(answer["token"])
    assert said(answer)[0] == texts.get("privacy_notice", "en", days=30)  # a first reply: a conversation of its own


@pytest.mark.parametrize(
    "authorization, reason",
    [
        (None, "send the chat's token as 'Authorization: Bearer <token>'"),
        ("Basic " + "a" * 40, "send the chat's token as 'Authorization: Bearer <token>'"),
        ("Bearer " + "z" * 32, "this token was not issued by this server: send a message to start a chat"),
        ("Bearer " + secrets.token_hex(32), "this token was not issued by this server: send a message to start a chat"),
        (
            "Bearer " + ChatTokens(b"k" * 32).issue(),
            "this token was not issued by this server: send a message to start a chat",
        ),
    ],
    ids=["none", "basic", "chosen", "random", "other-key"],
)
def test_an_inbox_read_with_a_token_the_server_did_not_issue_is_refused_with_the_reason(bot, authorization, reason):
    child = WebChild(bot)
    child.say("hi")
    status, raw = http("GET", f"{child.base}/inbox", None, {"Authorization": authorization} if authorization else {})
    assert (status, json.loads(raw)) == (401, {"error": reason})
    status, raw = http("GET", f"{child.base}/inbox", None, {"Authorization": f"Bearer {forged(child.token)}"})
    assert (status, json.loads(raw)) == (
        401,
        {"error": "this token was not issued by this server: send a message to start a chat"},
    )


def test_a_repeated_message_id_is_handled_once(bot):
    child = WebChild(bot)
    first = child.say("hello", id="m-1")
    again = child.say("hello", id="m-1")
    assert first["messages"] and again == {"messages": [], "erased": False, "repeated": True, "token": first["token"]}


def test_an_empty_message_gets_a_kind_reply(bot, texts):
    reply = said(WebChild(bot).say(""))
    assert reply[:2] == [texts.get("privacy_notice", "en", days=30), texts.get("empty_message", "en")], reply
    assert gives_helpline(" ".join(reply), "NG")  # a first message: both numbers of the child's country
    assert texts.get("emergency_known", "en", emergency=emergency("NG")) in reply


@pytest.mark.parametrize(
    "headers, body, status, words",
    [
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
    child.say("hi")
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
        expect(page.locator("#messages li")).to_have_count(0)
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") is None  # none until the server gives one
        box.fill("hello again")
        page.keyboard.press("Enter")
        expect(page.locator("#messages li.bot").first).to_be_visible(timeout=15_000)
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") not in (None, old_token)
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
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") is None
        assert "Zawadi" not in page.evaluate("JSON.stringify(sessionStorage)")
        page.get_by_label("Your message").fill("hi")
        page.keyboard.press("Enter")  # a new chat, with a new token
        for _ in range(150):  # the page's CSP forbids eval, so wait_for_function cannot run there
            if page.evaluate("sessionStorage.getItem('helpline-chat-token')") is not None:
                break
            page.wait_for_timeout(100)
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") not in (None, old_token)
    finally:
        page.close()


def test_the_page_sends_one_message_at_a_time_each_with_the_token_the_answer_before_gave(bot, browser):
    page = browser.new_page(viewport={"width": 400, "height": 800})
    sent: list[Optional[str]] = []
    answers: list[Any] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization")) if r.url.endswith("/webhook") else None)
    page.on("response", lambda r: answers.append(r) if r.url.endswith("/webhook") else None)
    try:
        page.goto(f"{bot.base_url}/webhooks/web/chat?lang=en&country=KE")
        page.evaluate(  # three messages in one go: all written before the first answer can arrive
            """texts => { const box = document.getElementById("message"), form = document.getElementById("write");
                for (const text of texts) { box.value = text; form.requestSubmit(); } }""",
            ["hi", "i am being bullied", "what can i do"],
        )
        for _ in range(300):
            if len(answers) == 3:
                break
            page.wait_for_timeout(100)
        tokens_given = [answer.json()["token"] for answer in answers]
        token = tokens_given[0]
        assert sent == [None, f"Bearer {token}", f"Bearer {token}"] and tokens_given == [token] * 3
        assert page.evaluate("sessionStorage.getItem('helpline-chat-token')") == token and tokens().issued(token)
        expect_texts = page.locator("#messages li.child").all_inner_texts()
        assert expect_texts == ["hi", "i am being bullied", "what can i do"]
    finally:
        page.close()
