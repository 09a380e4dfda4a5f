"""The short, optional intake while a child waits for a counsellor.

Three questions, each skippable with 0: who it is about, the child's age band, and one line of
what happened. The answers go to the counsellor with the ticket, so the first words of the
conversation need not be "what happened?". Never asked in imminent danger: there the counsellor
comes first and every message goes straight to them.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Optional

from bot.handoff.queue import Risk, Ticket

SKIP = "0"
WHAT_MAX = 200  # characters of "what happened" kept in the ticket (the whole message is in the log)
# Each question's text key and its numbered answers: (text key of the option, value kept in the ticket).
QUESTIONS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "who": ("intake_who", (("option_me", "self"), ("option_someone_else", "someone else"))),
    "age": (
        "intake_age",
        (
            ("option_age_12", "12 or younger"),
            ("option_age_13_15", "13-15"),
            ("option_age_16_17", "16-17"),
            ("option_age_18", "18 or older"),
        ),
    ),
    "what": ("intake_what", ()),
}
STEPS = tuple(QUESTIONS)


def first_step(risk: Risk) -> Optional[str]:
    """The first question, or None when the child must reach a person without any."""
    return None if risk is Risk.IMMINENT else STEPS[0]


def answered(ticket: Ticket, text: str, number: Optional[int]) -> Ticket:
    """The ticket with the child's answer to its current question kept, moved to the next one.

    A number answers a numbered question (0 skips it). Words where a number was expected are
    taken as the child's own account: kept as "what happened", and the questions end there.
    """
    step = ticket.intake_step
    if step is None:
        return ticket
    _, options = QUESTIONS[step]
    intake = dict(ticket.intake)
    if number == 0 or text.strip() == SKIP:
        following = _after(step)
    elif options and number is not None and 1 <= number <= len(options):
        intake[step] = options[number - 1][1]
        following = _after(step)
    elif options and number is not None:
        return ticket  # a number that is not an option: the question is asked again
    else:
        intake["what"] = text.strip()[:WHAT_MAX]
        following = None
    return replace(ticket, intake=intake, intake_step=following)


def _after(step: str) -> Optional[str]:
    index = STEPS.index(step) + 1
    return STEPS[index] if index < len(STEPS) else None
