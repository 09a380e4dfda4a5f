"""What happens around a handoff: the intake, danger while waiting, the wait told honestly,
updates when it grows, counsellors away. On the in-memory queue and on the real Redis."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from zoneinfo import ZoneInfo

import pytest
import redis.asyncio as aioredis

from bot.conversation.relay import MIN_CLAIMS, UPDATE_EVERY_S, Relay, estimate_minutes
from bot.handoff.desks import Desk, Desks, HandoffRequest
from bot.handoff.queue import MemoryHandoffQueue, RedisHandoffQueue, Risk, State
from bot.routing.opening_hours import Hours
from tests.conftest import rebuilt
from tests.numbers import emergency, gives, helpline, helpline_number

REDIS_URL = "redis://127.0.0.1:6379/0"
DESK = Desk("NG", "Test desk NG", 10)
# Counsellors on weekdays 08:00-17:00 in Lagos; 2026-11-28 is a Saturday.
OFFICE = Desk("NG", "Test desk NG", 10, Hours.parse({"mon-fri": "08:00-17:00"}), ZoneInfo("Africa/Lagos"))
SATURDAY = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc).timestamp()


@pytest.fixture(params=["memory", "redis"])
async def relay_for(request, dialogue):
    """Makes a relay for a desk, on the parametrized queue (on Redis: its own key prefix, removed afterwards)."""
    prefix = f"test-relay:{uuid.uuid4().hex}:"
    clients = []

    def make(desk: Desk = DESK) -> Relay:
        with_desk = rebuilt(dialogue, desks=Desks({desk.helpline: desk}))
        if request.param == "memory":
            return Relay(with_desk, MemoryHandoffQueue())
        client = aioredis.from_url(REDIS_URL)
        clients.append(client)
        return Relay(with_desk, RedisHandoffQueue(client, prefix))

    yield make

    client = aioredis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.close()
    for used in clients:
        await used.close()


def texts(messages) -> list[str]:
    return [m.text for m in messages]


def test_the_estimate_rests_on_the_helplines_recent_pace():
    now = 10_000.0
    assert estimate_minutes([now - 60, now - 120], 1, now) is None  # too few claims to tell
    claims = [now - 180 * i for i in range(MIN_CLAIMS + 2)]  # one claim every 3 minutes
    assert estimate_minutes(claims, 1, now) == 3 and estimate_minutes(claims, 4, now) == 12
    assert estimate_minutes([now - 3 * 3600 - i for i in range(10)], 1, now) is None  # an old pace says nothing


async def test_a_child_asking_for_a_person_answers_a_short_optional_intake(relay_for, dialogue):
    relay = relay_for()
    t = dialogue.texts.get
    said = await relay.hand_off(
        DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), "sms-a", "sms", "en", ("i want a person",)
    )
    assert said[0].text == t("handoff_queued", "en", helpline="Test desk NG", position=1) + " " + t(
        "handoff_no_estimate", "en"
    )
    assert said[1].text == f"{t('intake_who', 'en')}\n1. Me\n2. Someone else\n0. Skip"
    assert [c.payload for c in said[1].choices] == ["1", "2"]
    assert texts(await relay.child_wrote("sms-a", "1")) == [
        f"{t('intake_age', 'en')}\n1. 12 or younger\n2. 13 to 15\n3. 16 or 17\n4. 18 or older\n0. Skip"
    ]
    age = [f"{t('intake_age', 'en')}\n1. 12 or younger\n2. 13 to 15\n3. 16 or 17\n4. 18 or older\n0. Skip"]
    assert texts(await relay.child_wrote("sms-a", "7")) == texts(await relay.child_wrote("sms-a", "9")) == age
    assert texts(await relay.child_wrote("sms-a", "2")) == [f"{t('intake_what', 'en')}\n0. Skip"]
    assert texts(await relay.child_wrote("sms-a", "someone keeps sending me messages")) == [t("intake_done", "en")]
    ticket = await relay.queue.active("sms-a")
    assert ticket.intake == {"who": "self", "age": "13-15", "what": "someone keeps sending me messages"}
    assert ticket.intake_step is None
    assert await relay.child_wrote("sms-a", "hello?") == []  # now for the counsellor
    assert await relay.queue.messages(ticket.id) == [
        ("child", "someone keeps sending me messages"),
        ("child", "hello?"),
    ]


async def test_every_intake_question_can_be_skipped_and_words_end_it(relay_for, dialogue):
    relay = relay_for()
    await relay.hand_off(DESK, HandoffRequest(Risk.HARM, "online_sexual_abuse"), "sms-b", "sms", "fr", ())
    for _ in range(3):
        await relay.child_wrote("sms-b", "0")
    skipped = await relay.queue.active("sms-b")
    assert skipped.intake == {} and skipped.intake_step is None

    await relay.hand_off(DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), "sms-c", "sms", "en", ())
    done = await relay.child_wrote("sms-c", "my friend is being bullied in a group chat")  # words, not a number
    assert texts(done) == [dialogue.texts.get("intake_done", "en")]
    ticket = await relay.queue.active("sms-c")
    assert ticket.intake == {"what": "my friend is being bullied in a group chat"} and ticket.intake_step is None


async def test_imminent_danger_gets_no_questions_and_danger_while_waiting_gets_the_emergency_number(
    relay_for, dialogue
):
    relay = relay_for()
    nigeria_emergency = emergency("NG")
    said = await relay.hand_off(DESK, HandoffRequest(Risk.IMMINENT, "self_harm"), "sms-d", "sms", "en", ())
    assert len(said) == 1 and (await relay.queue.active("sms-d")).intake_step is None

    await relay.hand_off(DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), "sms-e", "sms", "en", ())
    asked = await relay.queue.active("sms-e")
    assert [t.id for t in await relay.queue.waiting("NG")][-1] == asked.id
    said = await relay.child_wrote("sms-e", "he is here now and he is hitting me")
    assert texts(said) == [dialogue.texts.get("emergency_known", "en", emergency=nigeria_emergency)]
    now = await relay.queue.active("sms-e")
    assert now.risk is Risk.IMMINENT and now.intake_step is None  # no more questions
    assert [t.id for t in await relay.queue.waiting("NG")] == [
        said_id for said_id in [(await relay.queue.active("sms-d")).id, asked.id]
    ]
    assert await relay.queue.messages(asked.id) == [("child", "he is here now and he is hitting me")]


async def test_stop_ends_the_handoff_and_the_bot_answers_again(relay_for, dialogue):
    relay = relay_for()
    await relay.hand_off(DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), "sms-f", "sms", "en", ())
    ticket = await relay.queue.active("sms-f")
    assert texts(await relay.child_wrote("sms-f", "STOP")) == [dialogue.texts.get("stopped", "en")]
    assert (await relay.queue.get(ticket.id)).state is State.CLOSED
    assert await relay.child_wrote("sms-f", "hi") is None
    await relay.hand_off(DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), "tg-f", "telegram", "en", ())
    assert await relay.child_wrote("tg-f", "/delete") is None  # the bot takes it: confirm, then erase
    assert await relay.queue.active("tg-f") is None


async def test_when_counsellors_are_away_the_child_gets_the_number_their_hours_and_a_choice(relay_for, dialogue):
    relay = relay_for(OFFICE)
    said = await relay.hand_off(
        OFFICE, HandoffRequest(Risk.HARM, "online_sexual_abuse"), "sms-g", "sms", "en", (), now=SATURDAY
    )
    assert said[0].text == dialogue.texts.get("handoff_closed", "en", helpline="Test desk NG", when="Mon 08:00")
    # The helpline's own contact: Nigeria's helpline, a number to call on SMS.
    assert helpline("NG").name in said[1].text and gives(said[1].text, helpline_number("NG")), said[1].text
    assert said[-1].text == "1. Keep waiting\n2. Talk to the bot instead"
    ticket = await relay.queue.active("sms-g")
    assert ticket.reminded and ticket.intake_step is None and ticket.state is State.WAITING
    assert texts(await relay.child_wrote("sms-g", "1")) == [dialogue.texts.get("handoff_still_waiting", "en")]
    assert texts(await relay.child_wrote("sms-g", "2")) == [dialogue.texts.get("handoff_left", "en")]
    assert (await relay.queue.get(ticket.id)).state is State.EXPIRED

    imminent = await relay.hand_off(
        OFFICE, HandoffRequest(Risk.IMMINENT, "danger_now"), "sms-h", "sms", "en", (), now=SATURDAY
    )
    nigeria_emergency = emergency("NG")
    assert dialogue.texts.get("emergency_known", "en", emergency=nigeria_emergency) in texts(imminent)


async def test_a_waiting_child_is_told_when_the_wait_grows_and_when_it_passes_the_limit(relay_for, dialogue):
    relay = relay_for()
    t = dialogue.texts.get
    queue = relay.queue
    start = time.time()
    # The helpline claimed three children just now: an estimate can be given.
    for i in range(3):
        await relay.hand_off(DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), f"sms-old{i}", "sms", "en", ())
    for ticket in await queue.waiting("NG"):
        await queue.claim(ticket.id, "c1")
    claims = await queue.recent_claims("NG")
    assert len(claims) == 3

    said = await relay.hand_off(DESK, HandoffRequest(Risk.ASKED, "talk_to_human"), "sms-i", "sms", "en", (), now=start)
    first = await queue.active("sms-i")
    assert first.told_position == 1 and said[0].text.startswith(
        t("handoff_queued", "en", helpline="Test desk NG", position=1)
    )
    assert await relay.notices(now=start + 30) == []  # nothing new, and not so soon

    # A child in danger comes in and goes first: the waiting child is now number 2.
    await relay.hand_off(DESK, HandoffRequest(Risk.IMMINENT, "danger_now"), "sms-j", "sms", "en", (), now=start + 40)
    notices = await relay.notices(now=start + UPDATE_EVERY_S + 1)
    told = {ticket.conversation: texts(messages) for ticket, messages in notices}
    assert told["sms-i"][0].startswith(t("handoff_update", "en", helpline="Test desk NG", position=2))
    assert (await queue.active("sms-i")).told_position == 2
    assert "sms-i" not in {tk.conversation for tk, _ in await relay.notices(now=start + UPDATE_EVERY_S + 5)}  # once

    overdue = await relay.notices(now=start + DESK.max_wait_minutes * 60 + 1)
    late = {ticket.conversation: texts(messages) for ticket, messages in overdue}
    assert late["sms-i"][0] == t("handoff_overdue", "en", helpline="Test desk NG")
    assert late["sms-i"][-1] == "1. Keep waiting\n2. Talk to the bot instead"
    assert "sms-i" not in {tk.conversation for tk, _ in await relay.notices(now=start + DESK.max_wait_minutes * 60 + 2)}


async def test_when_the_handoff_store_is_down_the_bot_answers(dialogue):
    class Broken(MemoryHandoffQueue):
        async def active(self, conversation: str):
            raise ConnectionError("redis is down")

    relay = Relay(dialogue, Broken())
    assert await relay.child_wrote("sms-z", "hello") is None
