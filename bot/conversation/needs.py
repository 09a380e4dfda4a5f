"""What the bot does for each need: one table, read in one place (``Dialogue._reply``).

A need is what the dialogue decided the child needs this turn: mostly the classifier's intent,
sometimes overruled (the crisis phrase lists, the risk classifier, a numbered menu, a channel
command). Each row says, in order, the steps of the reply, and the need's properties: how urgently
it goes to a counsellor, whether its answer is unsure by nature, whether the phrase lists look for
it, which channel commands ask for it. Every other list of needs (the risk needs, the unsure ones,
the handoff urgencies, the commands...) is derived from this table, so a new need is one row here,
its texts in ``data/texts/``, its examples in ``data/nlu/`` and its intent in ``domain.yml``.

Needs only the dialogue makes, never the classifier: ``check_in`` (maybe nothing, maybe a crisis),
``empty_message``, ``main_menu`` (a menu's "no"), and ``choice:N`` (a numbered answer to the open
menu), whose row is ``menu_choice``. A need the table does not know is answered as ``out_of_scope``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Mapping, Optional

from bot.handoff.queue import Risk


class Do(enum.Enum):
    """What a step of a reply does (``Dialogue`` has one function for each)."""

    SAY = "say"  # the text named by the step (data/texts/)
    EMERGENCY = "emergency"  # the country's emergency number, or the advice to call the local one
    HELPLINE = "helpline"  # the child's helpline; if the country is unknown, ask it, then answer this need again
    HELPLINE_IF_KNOWN = "helpline_if_known"  # the child's helpline if the country is known: a crisis does not wait
    HOTLINE = "hotline"  # the country's hotline for reporting abuse material, if it has one
    ASK_COUNTRY = "ask_country"  # if the country is unknown, ask it: a numbered list of likely countries
    MAIN_MENU = "main_menu"  # the numbered main menu
    OFFER_PERSON = "offer_person"  # where the child's helpline takes conversations: "talk to a person?" (yes/no)
    CONFIRM_STOP = "confirm_stop"  # "delete everything?" (yes/no), asked with the step's text
    PRIVACY = "privacy"  # the privacy notice: what is kept, how long, who reads it, how to delete it
    FULL_LANGUAGES = "full_languages"  # the languages the bot fully speaks, each by its own name
    # Steps with rules of their own, each a need's whole reply:
    MENU_CHOICE = "menu_choice"  # the answer to the open menu (choice:N), or out_of_scope for a number it lacks
    GIVE_COUNTRY = "give_country"  # the country named, confirmed first when guessed; then the need it interrupted
    CHANGE_LANGUAGE = "change_language"  # the language named, else the language menu
    PLAIN_LANGUAGE = "plain_language"  # plain language on or off, said the new way
    MISUNDERSTOOD = "misunderstood"  # "I didn't understand" and the main menu; the second time in a row a person


_WITH_TEXT = (Do.SAY, Do.OFFER_PERSON, Do.CONFIRM_STOP)  # the steps that say a text of their own


@dataclass(frozen=True)
class Step:
    do: Do
    text: Optional[str] = None  # the key in data/texts/ of what it says (SAY) or asks (OFFER_PERSON, CONFIRM_STOP)


def say(text: str) -> Step:
    return Step(Do.SAY, text)


EMERGENCY = Step(Do.EMERGENCY)
HELPLINE = Step(Do.HELPLINE)
HELPLINE_IF_KNOWN = Step(Do.HELPLINE_IF_KNOWN)
HOTLINE = Step(Do.HOTLINE)
ASK_COUNTRY = Step(Do.ASK_COUNTRY)
MAIN_MENU = Step(Do.MAIN_MENU)
PRIVACY = Step(Do.PRIVACY)
OFFER_PERSON_AFTER_CRISIS = Step(Do.OFFER_PERSON, "check_in_person")


@dataclass(frozen=True)
class Need:
    name: str
    steps: tuple[Step, ...]  # the reply, in order
    urgency: Optional[Risk] = None  # handed to a counsellor this urgently, where the child's helpline takes handoffs
    unsure: bool = False  # the answer is not sure by nature: the floor adds both numbers
    crisis: bool = False  # the crisis phrase lists look for it (in the table's order) and its reply gives the
    # emergency number itself, so the helpline step adds none when the helpline is closed or missing
    commands: tuple[str, ...] = ()  # channel commands that ask for it (Telegram's /start, /helpline...)

    @property
    def risk(self) -> bool:
        """A risk to the child (self-harm, danger now, sextortion or grooming): never a sure answer,
        the privacy notice after the reply, and the next turn read without this one's words."""
        return self.urgency is not None and self.urgency > Risk.ASKED

    @property
    def needs_country(self) -> bool:
        """Answered with the child's helpline, so the country is asked first when unknown."""
        return HELPLINE in self.steps


def _table(*needs: Need) -> Mapping[str, Need]:
    table: dict[str, Need] = {}
    commands: set[str] = set()
    for need in needs:
        if need.name in table or not need.steps:
            raise ValueError(f"need {need.name!r}: listed twice, or without steps")
        for step in need.steps:
            if (step.text is not None) != (step.do in _WITH_TEXT):
                raise ValueError(
                    f"need {need.name!r}: step {step.do.value} says a text if and only if it is one of "
                    f"{', '.join(d.value for d in _WITH_TEXT)}"
                )
        if commands & set(need.commands):
            raise ValueError(f"need {need.name!r}: a command of another need")
        commands |= set(need.commands)
        table[need.name] = need
    return table


NOT_UNDERSTOOD = "out_of_scope"  # the need of a message we could not read, and of any need not in the table
MENU_CHOICE = "menu_choice"  # the row of every "choice:N"
CHOICE = "choice:"  # "choice:2": the child answered the open menu with 2

# Crisis needs come first: the phrase lists look for them in this order (danger before self-harm).
NEEDS: Mapping[str, Need] = _table(
    Need("danger_now", (EMERGENCY, say("danger_now"), HELPLINE_IF_KNOWN), urgency=Risk.IMMINENT, crisis=True),
    Need(
        "self_harm",
        (say("self_harm"), HELPLINE_IF_KNOWN, EMERGENCY, ASK_COUNTRY),
        urgency=Risk.IMMINENT,
        crisis=True,
    ),
    # Sextortion, grooming: the police can act now.
    Need("online_sexual_abuse", (say("online_sexual_abuse"), HELPLINE, EMERGENCY), urgency=Risk.HARM),
    Need("talk_to_human", (say("talk_to_human"), HELPLINE), urgency=Risk.ASKED),
    Need("need_helpline", (HELPLINE,), commands=("helpline",)),
    Need("cyberbullying", (say("cyberbullying"), HELPLINE)),
    Need("report_content", (say("report_content"), HELPLINE, HOTLINE)),
    Need("greet", (say("greet"), MAIN_MENU), commands=("start",)),
    # Maybe nothing, maybe a crisis: ask kindly (the floor adds both numbers), and offer a person where there is one.
    Need("check_in", (say("check_in"), OFFER_PERSON_AFTER_CRISIS), unsure=True),
    # A language the bot recognises but does not fully speak (its intents can't be trusted): who the
    # bot is, the numbers, and the languages it speaks fully; always with both numbers.
    Need("numbers_first", (say("numbers_intro"), HELPLINE, EMERGENCY, Step(Do.FULL_LANGUAGES)), unsure=True),
    Need(NOT_UNDERSTOOD, (Step(Do.MISUNDERSTOOD),), unsure=True),
    Need("empty_message", (say("empty_message"), MAIN_MENU), unsure=True),
    Need("main_menu", (MAIN_MENU,)),
    Need("safety_tips", (say("safety_tips"),)),
    Need("thanks_bye", (say("thanks_bye"),)),
    Need("privacy_question", (PRIVACY,)),
    Need("stop_delete", (Step(Do.CONFIRM_STOP, "confirm_stop"),), commands=("stop", "delete")),
    Need("give_country", (Step(Do.GIVE_COUNTRY),)),
    Need("change_language", (Step(Do.CHANGE_LANGUAGE),), commands=("language",)),
    Need("plain_language", (Step(Do.PLAIN_LANGUAGE),), commands=("simple",)),
    Need(MENU_CHOICE, (Step(Do.MENU_CHOICE),)),
)

# Intents of domain.yml that are not needs: what they mean depends on the open menu.
NOT_NEEDS: Mapping[str, str] = {
    "choose_option": "'the second one', 'number 3': an unclear intent, read as the answer to the open menu (choice:N)",
}


# A risk need in a numbers-first language: the emergency number first, a kind word in the child's
# own language, the helpline, and a person where the helpline takes conversations.
NUMBERS_FIRST_CRISIS = (EMERGENCY, say("crisis_kind"), HELPLINE_IF_KNOWN, OFFER_PERSON_AFTER_CRISIS)


def need_row(name: str) -> Need:
    """The table's row for a need: ``choice:N`` is a menu choice; a need the table does not know is
    answered as ``out_of_scope``."""
    if name.startswith(CHOICE):
        return NEEDS[MENU_CHOICE]
    return NEEDS.get(name) or NEEDS[NOT_UNDERSTOOD]


# Derived lists: read them, never write one by hand.
# The needs that reach a person, and how urgent each is.
TRIGGERS: Mapping[str, Risk] = {name: need.urgency for name, need in NEEDS.items() if need.urgency is not None}
# Needs answered as a risk to the child: self-harm, danger now, sextortion or grooming.
RISK_NEEDS = tuple(name for name, need in NEEDS.items() if need.risk)
# Needs whose danger cannot wait for a counsellor: the emergency number at once, even during a handoff.
IMMINENT_NEEDS = tuple(name for name, need in NEEDS.items() if need.urgency is Risk.IMMINENT)
# Needs whose answer is not sure by nature: the floor always adds the numbers.
UNSURE_NEEDS = tuple(name for name, need in NEEDS.items() if need.unsure)
# Needs answered with the child's helpline, so they need a country first.
NEEDS_HELPLINE = tuple(name for name, need in NEEDS.items() if need.needs_country)
# What the crisis phrase lists look for, in the order they are checked: danger first.
CRISIS_NEEDS = tuple(name for name, need in NEEDS.items() if need.crisis)
# Channel commands (Telegram's /start, /helpline...) passed as metadata.command: the need they ask for.
COMMANDS: dict[str, str] = {command: name for name, need in NEEDS.items() for command in need.commands}
