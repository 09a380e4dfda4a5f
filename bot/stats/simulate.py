"""A made-up week of conversations, counted through the real recorder, to show what an export looks like.

Deterministic for a seed. The mix (countries, channels, needs, waits, outcomes) is invented, not
measured: it only has to exercise every table, including small cells that must be suppressed.
Which needs reach a counsellor, and how urgently, is the dialogue's (bot.conversation.needs), so it
comes from the caller: statistics sit below the conversation and do not import it.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace
from typing import Mapping

from bot.handoff.desks import HANDOFF_CHANNELS
from bot.handoff.outcomes import CHILD_LEFT
from bot.handoff.queue import Risk, State, Ticket
from bot.stats.record import StatsRecorder

# country: (weight, languages, has a handoff desk)
COUNTRIES = {
    "KE": (6, ("en", "sw"), True),
    "IN": (6, ("hi", "en"), True),
    "BR": (5, ("pt",), True),
    "GB": (4, ("en",), True),
    "TZ": (2, ("sw", "en"), False),
    "FR": (2, ("fr",), False),
    "MX": (2, ("es",), False),
    "EG": (1, ("ar",), False),
}
CHANNELS = {"whatsapp": 4, "telegram": 3, "sms": 2, "web": 1}
NEEDS = {
    "need_helpline": 20,
    "cyberbullying": 10,
    "talk_to_human": 10,
    "safety_tips": 8,
    "out_of_scope": 8,
    "online_sexual_abuse": 6,
    "self_harm": 5,
    "report_content": 4,
    "privacy_question": 3,
    "danger_now": 3,
    "change_language": 2,
}
COUNSELLOR_OUTCOMES = {
    "counselling_given": 40,
    "information_given": 20,
    "referred_to_services": 10,
    "referred_to_child_protection": 5,
    "referred_to_police": 3,
    "emergency_services_contacted": 3,
    "reported_to_hotline": 4,
    "follow_up_planned": 5,
    "child_left": 5,
    "handed_back_to_bot": 3,
    "silent_contact": 2,
}
MEAN_WAIT_S = {Risk.IMMINENT: 60, Risk.HARM: 240, Risk.ASKED: 600}


def _pick(rng: random.Random, weights: Mapping[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


async def simulate(
    recorder: StatsRecorder, monday: dt.date, conversations: int, seed: int, triggers: Mapping[str, Risk]
) -> None:
    """Count ``conversations`` made-up conversations in the week starting ``monday``; ``triggers``:
    the needs that reach a counsellor and how urgently (bot.conversation.needs.TRIGGERS)."""
    rng = random.Random(seed)
    start = dt.datetime(monday.year, monday.month, monday.day, tzinfo=dt.timezone.utc).timestamp()
    for _ in range(conversations):
        await _conversation(recorder, rng, start + rng.uniform(0, 7 * 86_400 - 3 * 3600), triggers)


async def _conversation(recorder: StatsRecorder, rng: random.Random, when: float, triggers: Mapping[str, Risk]) -> None:
    country = rng.choices(list(COUNTRIES), [w for w, _, _ in COUNTRIES.values()])[0]
    _, languages, desk = COUNTRIES[country]
    language, channel = rng.choice(languages), _pick(rng, CHANNELS)
    known = channel in ("whatsapp", "sms") or rng.random() < 0.3  # a phone number tells the country
    if rng.random() < 0.6:
        await recorder.record_need(country if known else None, channel, language, "greet", when=when)
    need = _pick(rng, NEEDS)
    if known:
        await recorder.record_need(country, channel, language, need, triggers.get(need), when=when)
    else:  # the bot asks where the child is and answers once told (a menu choice); a few never say
        await recorder.record_need(None, channel, language, need, triggers.get(need), when=when)
        if rng.random() < 0.15:
            return
        await recorder.record_need(country, channel, language, "menu_choice", when=when)
    await recorder.record_conversation(country, channel, when=when)
    if need in triggers and desk and channel in HANDOFF_CHANNELS:  # as the bot does
        await _ticket(
            recorder,
            rng,
            Ticket(
                "simulated",
                country,
                "simulated",
                channel,
                country,
                language,
                triggers[need],
                need,
                created_at=when,
                updated_at=when,
            ),
        )
    if rng.random() < 0.4:
        await recorder.record_need(country, channel, language, "thanks_bye", when=when)


async def _ticket(recorder: StatsRecorder, rng: random.Random, ticket: Ticket) -> None:
    await recorder.record_ticket_opened(ticket)
    fate = rng.random()
    if fate < 0.03:
        return  # still waiting when the week is exported
    if fate < 0.2:  # nobody claimed it in time, or the child said stop while waiting
        ended = (
            replace(ticket, state=State.EXPIRED)
            if rng.random() < 0.6
            else replace(ticket, state=State.CLOSED, outcome=CHILD_LEFT)
        )
        await recorder.record_ticket_closed(ended)
        return
    waited = rng.expovariate(1 / MEAN_WAIT_S[ticket.risk])
    await recorder.record_ticket_claimed(ticket, waited)
    await recorder.record_ticket_closed(
        replace(ticket, state=State.CLOSED, counsellor="simulated", outcome=_pick(rng, COUNSELLOR_OUTCOMES))
    )
