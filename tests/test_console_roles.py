"""The console's roles, audit log and login throttling over HTTP, against a real console process on the real
Redis (its own key prefix), with tickets opened straight in its queue.

Logins come through a trusted proxy (CONSOLE_PROXIES=127.0.0.1), so each test names its own client
address in X-Forwarded-For and none counts against another's; locks are short (4 s, at most 8 s).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis.asyncio as aioredis

from bot.handoff.counsellors import ADMIN, SUPERVISOR, Counsellors
from bot.handoff.queue import RedisHandoffQueue, Risk, Ticket
from scripts.local_bot import running_console
from tests.conftest import redis_keys_removed
from tests.console_client import PASSWORD, Counsellor

REDIS_URL = "redis://127.0.0.1:6379/0"
CHILD_SAYS = "he said he would send the photos to everyone"  # never in the audit log
PEOPLE = {  # name: (helpline, role)
    "amina": ("NG", "counsellor"),
    "baraka": ("NG", "counsellor"),
    "zawadi": ("NG", SUPERVISOR),
    "wanjiru": ("NG", ADMIN),
    "kwame": ("KE", SUPERVISOR),
    "locked-out": ("NG", "counsellor"),
    "resetter": ("NG", "counsellor"),
    "in-browser": ("NG", "counsellor"),
}


@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    prefix = f"test-roles-{secrets.token_hex(4)}:"
    names = {name: f"{name}-{secrets.token_hex(3)}" for name in PEOPLE}

    async def prepare() -> None:
        client = aioredis.from_url(REDIS_URL)
        try:
            accounts = Counsellors(client, prefix + "console:")
            for name, (helpline, role) in PEOPLE.items():
                await accounts.add(names[name], helpline, PASSWORD, role)
        finally:
            await client.close()

    env = {
        "REDIS_URL": REDIS_URL,
        "HELPLINE_REDIS_PREFIX": prefix,
        "HELPLINE_HANDOFF_FILE": str(Path(__file__).parent / "handoff_desks.yml"),
        "CONSOLE_PROXIES": "127.0.0.1",
        "CONSOLE_LOGIN_TRIES": "3",
        "CONSOLE_ADDRESS_TRIES": "6",
        "CONSOLE_LOCK_S": "4",
        "CONSOLE_LOCK_MAX_S": "8",
    }
    try:
        asyncio.run(prepare())  # a sync module (HTTP): a short loop of its own for the setup
        with running_console(tmp_path_factory.mktemp("roles-console"), env) as base:
            yield {"base": base, "prefix": prefix, "names": names}
    finally:
        redis_keys_removed(prefix)


def person(setting: dict[str, Any], name: str) -> Counsellor:
    """``name`` logged in, from an address of their own."""
    someone = Counsellor(setting["base"], setting["names"][name])
    assert someone.login(address=f"192.0.2.{list(PEOPLE).index(name) + 1}") == 200
    return someone


def open_ticket(setting: dict[str, Any], helpline: str = "NG", says: str = CHILD_SAYS) -> str:
    async def opened() -> str:
        client = aioredis.from_url(REDIS_URL)
        try:
            queue = RedisHandoffQueue(client, setting["prefix"] + "handoff:")
            made = Ticket.new(helpline, f"sms-{secrets.token_hex(6)}", "sms", helpline, "en", Risk.HARM, "sextortion")
            ticket = await queue.open(Ticket(**{**made.__dict__, "last_messages": (says,)}))
            await queue.append(ticket, "child", says)
            return ticket.id
        finally:
            await client.close()

    with ThreadPoolExecutor(1) as thread:  # a loop of its own, beside Playwright's (which runs in this thread)
        return thread.submit(asyncio.run, opened()).result()


def test_a_plain_counsellor_cannot_take_over_or_act_on_a_colleagues_conversation(setting):
    amina, baraka = person(setting, "amina"), person(setting, "baraka")
    ticket = open_ticket(setting)
    assert amina.post(f"/api/tickets/{ticket}/claim")[0] == 200
    holds = (
        f"{setting['names']['amina']} holds this conversation: only they can act on it, "
        "unless a supervisor takes it over"
    )
    assert baraka.post(f"/api/tickets/{ticket}/takeover") == (
        403,
        {"error": "taking over a colleague's conversation needs a supervisor's or an admin's role"},
    )
    assert baraka.post(f"/api/tickets/{ticket}/transfer", {"to": setting["names"]["baraka"]}) == (403, {"error": holds})
    assert baraka.post(f"/api/tickets/{ticket}/reply", {"text": "hi, it's Baraka"}) == (403, {"error": holds})
    assert baraka.post(f"/api/tickets/{ticket}/close", {"outcome": "counselling_given"}) == (403, {"error": holds})
    assert baraka.post(f"/api/tickets/{ticket}/handback") == (403, {"error": holds})
    status, seen = amina.get(f"/api/tickets/{ticket}/messages")
    assert status == 200 and seen["ticket"]["counsellor"] == setting["names"]["amina"]
    assert seen["messages"] == [{"author": "child", "text": CHILD_SAYS}]  # nothing of Baraka's went out
    assert baraka.post(f"/api/tickets/{ticket}/takeover", csrf=False)[0] == 401  # CSRF still guards every change


def test_a_supervisor_takes_over_and_the_audit_log_says_so(setting):
    amina, zawadi, kwame = person(setting, "amina"), person(setting, "zawadi"), person(setting, "kwame")
    names = setting["names"]
    ticket = open_ticket(setting)
    assert amina.post(f"/api/tickets/{ticket}/claim")[0] == 200
    status, taken = zawadi.post(f"/api/tickets/{ticket}/takeover")
    assert status == 200 and taken["ticket"]["counsellor"] == names["zawadi"]
    assert amina.post(f"/api/tickets/{ticket}/reply", {"text": "are you there?"})[0] == 403
    assert zawadi.post(f"/api/tickets/{ticket}/reply", {"text": "Hi, I'm Zawadi. I'm here now."})[0] == 200
    assert zawadi.post(f"/api/tickets/{ticket}/close", {"outcome": "reported_to_hotline"})[0] == 200

    status, audit = zawadi.get("/api/audit?limit=500")
    mine = [e for e in audit["entries"] if e["ticket"] == ticket]
    assert status == 200 and audit["helpline"] == "NG"
    assert [(e["who"], e["role"], e["what"], e["holder"], e["outcome"]) for e in mine] == [
        (names["zawadi"], SUPERVISOR, "close", "", "reported_to_hotline"),
        (names["zawadi"], SUPERVISOR, "takeover", names["amina"], ""),
        (names["amina"], "counsellor", "claim", "", ""),
    ]
    at = [time.mktime(time.strptime(e["at"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone for e in mine]
    assert all(abs(when - time.time()) < 120 for when in at) and all(e["at"].endswith("+00:00") for e in mine)
    raw = json.dumps(audit)
    assert CHILD_SAYS not in raw and "I'm Zawadi" not in raw and "sms-" not in raw  # no text, no child
    assert amina.get("/api/audit") == (403, {"error": "only a supervisor or an admin reads the audit log"})
    assert person(setting, "wanjiru").get("/api/audit?limit=1")[1]["entries"][0]["ticket"] == ticket  # an admin too
    assert kwame.get("/api/audit") == (200, {"helpline": "KE", "entries": [], "next": None})  # NG's are not KE's
    older = zawadi.get("/api/audit?limit=2")[1]
    assert zawadi.get(f"/api/audit?limit=1&before={older['next']}")[1]["entries"][0]["what"] == "claim"
    assert zawadi.get("/api/audit?limit=0")[0] == 400 and zawadi.get("/api/audit?before=yesterday")[0] == 400


def test_a_transfer_goes_only_to_a_colleague_or_back_to_the_desk(setting):
    amina, baraka = person(setting, "amina"), person(setting, "baraka")
    names = setting["names"]
    ticket = open_ticket(setting)
    assert amina.post(f"/api/tickets/{ticket}/claim")[0] == 200
    for target in (names["kwame"], "nobody-of-that-name"):
        assert amina.post(f"/api/tickets/{ticket}/transfer", {"to": target}) == (
            403,
            {"error": f"{target} is not a counsellor of helpline NG: transfer only to one"},
        )
    assert amina.post(f"/api/tickets/{ticket}/transfer", {"desk": "KE"})[0] == 403
    assert amina.post(f"/api/tickets/{ticket}/transfer", {})[0] == 400
    status, moved = amina.post(f"/api/tickets/{ticket}/transfer", {"to": names["baraka"]})
    assert status == 200 and moved["ticket"]["counsellor"] == names["baraka"]
    status, back = baraka.post(f"/api/tickets/{ticket}/transfer", {"desk": "NG"})
    assert status == 200 and (back["ticket"]["state"], back["ticket"]["counsellor"]) == ("waiting", None)
    assert ticket in [t["id"] for t in amina.get("/api/queue")[1]["waiting"]]


def test_another_helplines_conversations_stay_out_of_reach(setting):
    amina, kwame = person(setting, "amina"), person(setting, "kwame")  # kwame: a supervisor, of KE
    ticket = open_ticket(setting)
    assert all(t["id"] != ticket for t in kwame.get("/api/queue")[1]["waiting"])
    for action, body in (("claim", None), ("takeover", None), ("transfer", {"desk": "NG"}), ("handback", None)):
        assert kwame.post(f"/api/tickets/{ticket}/{action}", body) == (404, {"error": "no such ticket"}), action
    assert kwame.get(f"/api/tickets/{ticket}/messages")[0] == 404
    assert amina.post(f"/api/tickets/{ticket}/claim")[0] == 200
    assert kwame.post(f"/api/tickets/{ticket}/takeover")[0] == 404


def test_failed_logins_lock_the_account_with_a_retry_after_and_the_lock_expires(setting):
    someone = Counsellor(setting["base"], setting["names"]["locked-out"])
    started = time.monotonic()
    answers = [someone.login_answer("wrong password!!", "198.51.100.10") for _ in range(3)]
    assert [status for status, _, _ in answers] == [401, 401, 429]
    assert time.monotonic() - started >= 2 / 3 + 4 / 3 + 2 - 0.1  # each refusal was held longer than the last
    status, body, headers = answers[2]
    assert headers["Retry-After"] == "2" and body == {
        "error": "Too many failed logins for this account. Try again in 2 seconds.",
        "retry_after_s": 2,
    }
    status, body, headers = someone.login_answer(PASSWORD, "198.51.100.11")  # right password, elsewhere: still locked
    assert status == 429 and body["error"].startswith("Too many failed logins for this account.")
    time.sleep(int(headers["Retry-After"]) + 0.2)
    assert someone.login(PASSWORD, "198.51.100.11") == 200


def test_failed_logins_from_one_address_lock_it_whatever_the_accounts(setting):
    guesses = [Counsellor(setting["base"], f"guess-{i}-{secrets.token_hex(2)}") for i in range(6)]
    statuses = [g.login_answer("wrong password!!", "198.51.100.20")[0] for g in guesses]
    assert statuses == [401] * 5 + [429]
    status, body, headers = Counsellor(setting["base"], setting["names"]["resetter"]).login_answer(
        PASSWORD, "198.51.100.20"
    )
    # The lock's 4 s began two seconds ago, when the last guess was answered (held for 2 s): the wait is
    # now held up to a second before it lifts, and then the one second left is what it says.
    assert (status, body["error"]) == (429, "Too many failed logins from your address. Try again in 1 second.")
    assert headers["Retry-After"] == "1"
    assert Counsellor(setting["base"], setting["names"]["resetter"]).login(PASSWORD, "198.51.100.21") == 200


def test_a_successful_login_starts_the_count_afresh(setting):
    someone = Counsellor(setting["base"], setting["names"]["resetter"])
    for _ in range(2):
        assert someone.login("wrong password!!", "198.51.100.30") == 401
    assert someone.login(PASSWORD, "198.51.100.30") == 200
    assert [someone.login("wrong password!!", "198.51.100.30") for _ in range(3)] == [401, 401, 429]


def test_the_login_page_says_when_to_try_again(setting, browser):
    from playwright.sync_api import expect

    page = browser.new_page()
    try:
        page.goto(setting["base"])
        for _ in range(3):
            page.get_by_label("Username", exact=True).fill(setting["names"]["in-browser"])
            page.get_by_label("Password").fill("not my password")
            with page.expect_response("**/api/login"):
                page.get_by_role("button", name="Log in").click()
        told = "Too many failed logins for this account. Try again in 2 seconds."
        expect(page.get_by_role("alert")).to_have_text(told)
    finally:
        page.close()


def test_the_page_puts_a_conversation_back_in_the_queue(setting, browser):
    from playwright.sync_api import expect

    says = f"can someone help me {secrets.token_hex(3)}"
    ticket = open_ticket(setting, says=says)
    page = browser.new_page()
    try:
        page.goto(setting["base"])
        page.get_by_label("Username", exact=True).fill(setting["names"]["baraka"])
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        row = page.get_by_role("row").filter(has_text=says)
        row.get_by_role("button", name="Claim").click()
        expect(page.get_by_label("Your message to the child")).to_be_focused()
        expect(row).to_have_count(0)  # claimed: out of the queue
        page.get_by_role("button", name="Put back in the queue").click()
        expect(page.locator("#chat-view")).to_be_hidden()
        expect(row).to_be_visible()  # waiting again, for anyone at the desk
        assert person(setting, "amina").post(f"/api/tickets/{ticket}/claim")[0] == 200
    finally:
        page.close()
