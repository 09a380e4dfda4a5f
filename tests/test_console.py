"""The counsellors' API: log in, see only your helpline's queue, claim, write to the child, close.

The console runs as its own process on the real Redis, next to the whole bot with its channels;
the child writes by SMS (fake Twilio), the counsellor through the API.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from bot.conversation.dialogue import Dialogue
from tests.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.console_client import PASSWORD, Counsellor
from tests.test_channels import post_twilio, sms

pytestmark = pytest.mark.rasa


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
    assert (
        amina.post(
            f"/api/tickets/{ticket}/reply", {"text": "Hi, I'm Amina from the helpline. Are you safe right now?"}
        )[0]
        == 200
    )
    assert (
        twilio_api.messages_to(phone, count=before + 1)[-1]
        == "Hi, I'm Amina from the helpline. Are you safe right now?"
    )

    post_twilio(bot, "sms", sms("yes <script>alert(1)</script> im at home", phone))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        said = amina.get(f"/api/tickets/{ticket}/messages")[1]["messages"]
        if said and said[-1]["author"] == "child":
            break
        time.sleep(0.2)
    assert said[-1] == {"author": "child", "text": "yes <script>alert(1)</script> im at home"}  # kept as text

    status, done = amina.post(f"/api/tickets/{ticket}/close", {"outcome": "counselling_given"})
    assert status == 200 and done["ticket"]["state"] == "closed"
    post_twilio(bot, "sms", sms("thank you bye", phone))  # the bot answers again
    after = twilio_api.messages_to(phone, count=before + 3)[before + 1 :]
    texts = Dialogue.load().texts
    assert texts.get("handoff_ended", "en") in after and texts.get("thanks_bye", "en") in after, after
    assert amina.post(f"/api/tickets/{ticket}/reply", {"text": "too late"})[0] == 409


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
            twilio_api.messages_to(phone, count=2)  # in the line, and the intake's first question
            post_twilio(bot, "sms", sms("1", phone))  # about me: the row shows the answer as it comes
            expect(row).to_contain_text("About: self", timeout=20_000)
            row.get_by_role("button").click()
            reply = page.get_by_label("Your message to the child")
            expect(reply).to_be_focused()
            reply.fill("Hi, I'm Amina from the helpline. I'm here.")
            page.get_by_role("button", name="Send").click()
            count = len(twilio_api.messages_to(phone, count=4))
            assert twilio_api.messages_to(phone, count=count)[-1] == "Hi, I'm Amina from the helpline. I'm here."

            # A prepared reply, in the child's language (English here), sent as it reads.
            page.get_by_label("Prepared replies (sent in the child's language)").select_option(
                label="Thank you for telling me. You did the right thing by writing to us."
            )
            page.get_by_role("button", name="Send").click()
            count += 1
            assert (
                twilio_api.messages_to(phone, count=count)[-1]
                == "Thank you for telling me. You did the right thing by writing to us."
            )

            post_twilio(bot, "sms", sms("<script>alert('x')</script><img src=x onerror=alert(1)>", phone))
            expect(page.locator("#messages")).to_contain_text(
                "<script>alert('x')</script><img src=x onerror=alert(1)>", timeout=20_000
            )
            assert page.locator("#messages img").count() == 0 and dialogs == []

            page.get_by_label("Outcome").select_option(label="Counselling given (listened and supported the child)")
            page.get_by_role("button", name="Close the conversation").click()
            expect(page.locator("#chat-view")).to_be_hidden()
            ended = Dialogue.load().texts.get("handoff_ended", "en")
            assert ended in twilio_api.messages_to(phone, count=count + 1)  # the child is told it has ended
        finally:
            browser.close()
