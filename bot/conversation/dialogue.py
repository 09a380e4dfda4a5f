"""What the bot says to a message: the one place where the conversation's rules live.

Rasa classifies the message and keeps the conversation; this module decides the reply from the
intent, the text and the conversation's state (its slots), so the same rules serve every channel
and can be tested without Rasa. Three things can overrule the classifier: the crisis phrase lists
and the learnt risk classifier (always first), and a numbered menu the child is answering.
What each need's reply is made of, step by step, is the needs table (bot.conversation.needs);
``_reply`` runs its steps.

The floor: a reply that is not a confident answer without risk (the bot did not understand, the
classifier is unsure or sees some risk, the message is in a language we don't speak, or it is
the first reply of a conversation) carries the child's helpline and emergency number, or when the
country is unknown, the advice to call the local emergency number and the question where they are.
"""

from __future__ import annotations

import datetime as dt
import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from babel.dates import format_skeleton, format_time

from bot.conversation.needs import (
    CHOICE,
    COMMANDS,
    NUMBERS_FIRST_CRISIS,
    RISK_NEEDS,
    UNSURE_NEEDS,
    Do,
    Step,
    need_row,
)
from bot.conversation.risk import RiskClassifier, RiskReading, laughing
from bot.conversation.triage import CRISIS_INTENTS, CrisisNet, overrule
from bot.datafiles.training import language_examples, nlu_examples, risk_examples
from bot.handoff.desks import Desk, Desks, HandoffRequest
from bot.handoff.queue import Risk, Ticket
from bot.language.detection import LanguageDecision, LanguageDetector, LanguageHints, LanguageRegistry
from bot.language.input_text import clean, has_words
from bot.language.texts import Texts
from bot.routing.contact_choice import Offer, advise
from bot.routing.countries import CountryNames
from bot.routing.helplines import RoutingTable
from bot.routing.hints import ChannelHints
from bot.routing.opening_hours import OpenState
from bot.storage.retention import DAY_S, Retention

logger = logging.getLogger(__name__)

# Slots the dialogue reads and writes (declared in domain.yml).
SLOTS = ("language", "country", "menu", "resume", "country_guess", "misunderstood", "privacy_told", "plain", "risk")
# A menu's options: the text key of each (or its title, untranslated) and what choosing it means.
Options = Sequence[tuple[str, Optional[str]]]
MAIN_MENU = (
    ("option_helpline", "need_helpline"),
    ("option_danger", "danger_now"),
    ("option_human", "talk_to_human"),
    ("option_tips", "safety_tips"),
    ("option_language", "change_language"),
    ("option_plain", "plain_language"),
)
CONFIRM_STOP_MENU = (("option_yes", "stop_confirmed"), ("option_no", "stop_cancelled"))
CONFIRM_COUNTRY_MENU = (("option_yes", "country_confirmed"), ("option_no", "country_rejected"))
OFFER_PERSON_MENU = (("option_yes", "talk_to_human"), ("option_no", "main_menu"))
# What a Dialogue built without them (in tests) has: no helpline takes handoffs, and these periods.
NO_DESKS = Desks({})
DEFAULT_RETENTION = Retention(30 * DAY_S, 7 * DAY_S, DAY_S, DAY_S, 90 * DAY_S, 730 * DAY_S)
UNCLEAR_INTENTS = (None, "", "nlu_fallback", "out_of_scope", "choose_option")
MENU_COUNTRIES = 8  # at most this many countries in the list a numbers-first language is asked from
# At most this many languages in the language menu: thirty would not fit an SMS. The child's country's
# come first; any other is chosen by writing its name (or simply by writing in it).
MENU_LANGUAGES = 9

# The text (data/texts/<lang>.yml) that words each way of reaching a helpline (helplines.yml's methods).
CONTACT_TEXTS = {
    "phone": "contact_phone",
    "sms": "contact_sms",
    "whatsapp": "contact_whatsapp",
    "telegram": "contact_telegram",
    "chat": "contact_chat",
}


@dataclass(frozen=True)
class Choice:
    number: int
    title: str

    @property
    def payload(self) -> str:
        """What the child's answer is when they press the button: the number, as on SMS."""
        return str(self.number)


@dataclass(frozen=True)
class BotMessage:
    text: str
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Turn:
    """One message from the child, as the dialogue sees it."""

    text: str  # already cleaned by bot.language.input_text.clean
    intent: Optional[str] = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    metadata: Optional[Mapping[str, Any]] = None
    now: Optional[dt.datetime] = None  # aware; None means the current time (tests pass a fixed one)
    confidence: float = 1.0  # the classifier's confidence in ``intent`` (Rasa's, from Turn.parsed)
    earlier: tuple[str, ...] = ()  # the child's previous messages in this conversation, oldest first

    @classmethod
    def parsed(cls, message: Mapping[str, Any], slots: Mapping[str, Any], earlier: Iterable[Any] = ()) -> "Turn":
        """A turn from a message as Rasa parsed it (``text``, ``intent``, ``metadata``)."""
        intent = message.get("intent") or {}
        return cls(
            text=clean(message.get("text")),
            intent=intent.get("name"),
            confidence=float(intent.get("confidence") or 0.0),
            slots=slots,
            metadata=message.get("metadata"),
            earlier=tuple(clean(t) for t in earlier),
        )


@dataclass
class Outcome:
    need: str  # what the bot answered: the intent after the safety net and menus
    language: str
    messages: list[BotMessage] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)  # every slot in SLOTS, as it is now
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    channel: Optional[str] = None  # sms, whatsapp, telegram; None for web chats
    country_assumed: bool = False  # the country came from the channel this turn, not from the child
    handoff: Optional[HandoffRequest] = None  # set when a counsellor should take the conversation
    erase: bool = False  # the child confirmed: delete everything kept about them (after this turn)
    gave_helpline: bool = False  # the reply names the child's helpline (or says there is none)
    gave_emergency: bool = False  # the reply gives the emergency number (or says to call the local one)
    sure: bool = True  # a confident answer without risk; when False the reply carries both numbers


@dataclass(frozen=True)
class _Reply:
    """A reply being made, as its steps see it."""

    need: str  # as decided ("choice:2" for a menu answer)
    turn: Turn
    out: Outcome
    pending_menu: Optional[str]  # the menu the child was answering, if any


def _text(step: Step) -> str:
    if step.text is None:  # bot.conversation.needs checks that it is not
        raise ValueError(f"a {step.do.value} step without its text")
    return step.text


def _number(need: str) -> int:
    """The number of a menu choice: 2 for "choice:2"."""
    return int(need[len(CHOICE) :])


def parse_choice(text: str) -> Optional[int]:
    """A bare menu number such as "2", "2.", "٢" or "２"; None for anything else."""
    stripped = text.strip().rstrip(".)").strip()
    if not stripped or len(stripped) > 2 or not all(unicodedata.decimal(ch, None) is not None for ch in stripped):
        return None
    return int("".join(str(unicodedata.decimal(ch)) for ch in stripped))


NO_DESKS = Desks({})  # no helpline takes handoffs
DEFAULT_RETENTION = Retention(30 * DAY_S, 7 * DAY_S, DAY_S, DAY_S, 90 * DAY_S, 730 * DAY_S)


class Dialogue:
    """Decides replies; built once at start-up from the data files (which it validates)."""

    def __init__(
        self,
        registry: LanguageRegistry,
        detector: LanguageDetector,
        texts: Texts,
        crisis: CrisisNet,
        risk: RiskClassifier,
        table: RoutingTable,
        countries: CountryNames,
        desks: Desks = NO_DESKS,
        retention: Retention = DEFAULT_RETENTION,
    ) -> None:
        self.registry = registry
        self.detector = detector
        self.texts = texts
        self.crisis = crisis
        self.risk = risk
        self.table = table
        self.countries = countries
        self.desks = desks
        self.retention = retention
        self._steps = self._step_functions()

    @classmethod
    def load(
        cls,
        registry: Optional[LanguageRegistry] = None,
        desks: Optional[Desks] = None,
        retention: Optional[Retention] = None,
        texts: Optional[Texts] = None,
    ) -> "Dialogue":
        """Load and validate every data file; raises bot.datafiles.yamlfile.ConfigError if one is broken.
        The desks, retention periods and texts come from bot.wiring, which shares them with other services."""
        registry = registry or LanguageRegistry()
        training = nlu_examples(registry.codes) + risk_examples()  # read once for both models (0.3 s)
        return cls(
            registry=registry,
            detector=LanguageDetector.load(registry, training + language_examples(registry.numbers_first)),
            texts=texts or Texts.load(registry.codes, registry.default, numbers_first=registry.numbers_first),
            crisis=CrisisNet.load(registry.recognised_codes),
            risk=RiskClassifier.load(training),
            table=RoutingTable.load(),
            # Country names in the full languages' locales only: a typed name is matched by edit
            # distance against every name, and 87 more locales made that 30x slower (150 ms).
            countries=CountryNames(locale for lang in registry.languages.values() for locale in lang.locales),
            desks=desks if desks is not None else Desks.load(),
            retention=retention or Retention.load(),
        )

    # -- the turn ---------------------------------------------------------------------------

    def respond(self, turn: Turn) -> Outcome:
        hints = ChannelHints.lenient(turn.metadata)
        slots: dict[str, Any] = {name: turn.slots.get(name) for name in SLOTS}
        country_assumed = not slots["country"] and bool(hints.country)
        if country_assumed:
            slots["country"] = hints.country
        decision = self.detector.decide(
            turn.text, LanguageHints(current=slots["language"], declared=hints.language, country=slots["country"])
        )
        slots["language"] = decision.language
        # The classifier reads what the phrase lists read: everyday idioms ("dying of laughter") blanked.
        risk = (
            self.risk.assess(
                self.crisis.without_idioms(turn.text), [self.crisis.without_idioms(t) for t in turn.earlier]
            )
            if has_words(turn.text)
            else None
        )
        need, why = self._need(turn, slots, risk)
        outcome = Outcome(
            need=need, language=decision.language, slots=slots, channel=hints.channel, country_assumed=country_assumed
        )
        if turn.now:
            outcome.now = turn.now
        pending_menu, slots["menu"] = slots["menu"], None
        if need != "out_of_scope":
            slots["misunderstood"] = None
        # A text a numbers-first language lacks comes in the country's full language, else the default.
        fallback = next(iter(self.registry.of_country(slots["country"])), self.registry.default)
        with self.texts.plain_language(bool(slots["plain"])), self.texts.falling_back_to(fallback):
            self._reply(need, turn, outcome, pending_menu)
            slots["risk"] = outcome.need if outcome.need in RISK_NEEDS else None  # a menu's "I'm in danger" too
            first = not slots["privacy_told"]
            if first and not outcome.erase:
                self._privacy_notice(outcome)
            outcome.sure = not first and self._sure(outcome, turn, risk, why) and not self._foreign(turn, decision)
            if not outcome.sure and not outcome.erase:
                self._floor(outcome)
        outcome.language = slots["language"]
        # Why, by rule and score only: never the child's words.
        logger.info(
            "turn: need=%s by=%s risk=%s sure=%s", need, why, risk.best().explanation if risk else "-", outcome.sure
        )
        return outcome

    def _sure(self, out: Outcome, turn: Turn, risk: Optional[RiskReading], why: str) -> bool:
        """Whether this is a confident answer without risk (then the floor adds nothing), the
        message's language aside."""
        if out.need in RISK_NEEDS or out.need in UNSURE_NEEDS:
            return False
        if why in ("menu", "command"):  # the child chose it: a numbered answer, a button, a command
            return True
        if risk and risk.best().probability >= self.risk.settings.unsure_threshold:
            return False
        return turn.confidence >= self.risk.settings.sure_intent_confidence

    def _foreign(self, turn: Turn, decision: LanguageDecision) -> bool:
        """A message clearly in a language we don't speak: we can't be sure of anything we read.
        Asked last, only of answers otherwise sure: it may cost a langdetect call (a few ms)."""
        foreign = self.detector.foreign(turn.text, decision.guesses)
        if foreign:
            logger.info("turn: in a language we don't speak (%s): both numbers", foreign)
        return bool(foreign)

    def _floor(self, out: Outcome) -> None:
        """Both numbers in every reply that may matter: what the answer lacks of them is added,
        before the closing question if there is one (the child answers what they read last)."""
        question = out.messages.pop() if out.messages and out.messages[-1].choices else None
        if not out.gave_helpline:
            self._contact_or_ask(out, "floor", ask=False)
        if not out.gave_emergency:
            out.messages.append(self._emergency_message(out))
        if not out.slots["country"] and out.slots["menu"] not in ("country", "confirm_country"):
            out.messages.append(BotMessage(self.texts.get("floor_ask_country", out.slots["language"])))
        if question:
            out.messages.append(question)

    def _privacy_notice(self, out: Outcome) -> None:
        """Told once, on the first message: what is kept, how long, who reads it, how to delete it.
        Never before the reply to harm or danger; and not twice when the child asked about privacy."""
        out.slots["privacy_told"] = "1"
        if out.need == "privacy_question":
            return
        notice = self._privacy_text(out.slots["language"])
        if out.need in RISK_NEEDS:  # self-harm, danger, sextortion, grooming
            out.messages.append(notice)
        else:
            out.messages.insert(0, notice)

    def _privacy_text(self, language: str) -> BotMessage:
        return BotMessage(self.texts.get("privacy_notice", language, days=self.retention.conversation_s // DAY_S))

    def overdue(self, ticket: Ticket, desk: Desk, counsellors: OpenState, now: dt.datetime) -> list[BotMessage]:
        """For a child waiting longer than the desk's limit, or while its counsellors are away:
        the helpline to reach directly (and the emergency number when in danger), and the choice
        to keep waiting or talk to the bot."""
        lang = ticket.language if ticket.language in self.registry.languages else self.registry.default
        if counsellors.open:
            intro = self.texts.get("handoff_overdue", lang, helpline=desk.name)
        elif counsellors.opens_at:
            when = self._when(counsellors.opens_at, lang, now)
            intro = self.texts.get("handoff_closed", lang, helpline=desk.name, when=when)
        else:
            intro = self.texts.get("handoff_overdue", lang, helpline=desk.name)
        out = self._helpline_reply("overdue", lang, ticket.country, ticket.channel, intro, now)
        if ticket.risk is Risk.IMMINENT:
            out.messages.append(self._emergency_message(out))
        lines, choices = self.numbered(lang, (("option_keep_waiting", None), ("option_leave_queue", None)))
        out.messages.append(BotMessage(lines, choices))
        return out.messages

    def emergency_for(self, country: Optional[str], language: str) -> BotMessage:
        """The emergency number of ``country`` (or the advice to call the local one)."""
        return self._emergency_message(
            Outcome(need="danger_now", language=language, slots={"country": country, "language": language})
        )

    def _helpline_reply(
        self,
        need: str,
        language: str,
        country: Optional[str],
        channel: Optional[str],
        intro: Optional[str],
        now: Optional[dt.datetime] = None,
    ) -> Outcome:
        """A reply made outside a conversation (Rasa failed; a child waits too long): ``intro`` if
        any, then the helpline of ``country`` as it suits the channel and the hour."""
        slots: dict[str, Any] = {name: None for name in SLOTS}
        slots.update(language=language, country=country)
        out = Outcome(need=need, language=language, slots=slots, channel=channel)
        if now:
            out.now = now
        if intro:
            out.messages.append(BotMessage(intro))
        self._contact_or_ask(out, "danger_now", ask=False)
        return out

    def _need(self, turn: Turn, slots: dict[str, Any], risk: Optional[RiskReading]) -> tuple[str, str]:
        """The need to answer and the rule that chose it: crisis first (the classifier's, the
        phrase lists', the risk classifier's), then a menu answer, then the classifier's intent."""
        command = (turn.metadata or {}).get("command")
        if command in COMMANDS:  # /helpline, /stop... typed on Telegram: the child said what they want
            return COMMANDS[command], "command"
        if not turn.text:
            return "empty_message", "empty"
        if not has_words(turn.text) and turn.intent in UNCLEAR_INTENTS:
            return "out_of_scope", "no words"
        settings = self.risk.settings
        # Read with the earlier messages, risk counts once: the turn after a crisis answer is not another one.
        score = risk.best(with_context=not slots["risk"]) if risk else None
        agreed = bool(score and score.probability >= settings.intent_agreement_threshold)
        joking = laughing(turn.text)  # dramatic words laughed at are mostly hyperbole: more evidence needed
        # Every full language's lists (a short message's language may be misjudged); a numbers-first
        # language's machine-drafted list only in its own conversations and where it is spoken.
        among = {*self.registry.languages, slots["language"], *self.registry.spoken_in(slots["country"])}
        match = self.crisis.check(turn.text, among)
        if match and (agreed or not joking):
            return overrule(turn.intent, match) or match.intent, f"phrase list {match.language}"
        if match:
            return "check_in", f"phrase list {match.language}, laughing, risk classifier disagrees"
        # Our own notice's words, in a numbers-first language the classifiers never learnt: they
        # outweigh its guess; in the language the notice was given in too (the detector may read
        # them as a neighbour's: Nepali as Hindi).
        told_in = dict.fromkeys(lang for lang in (slots["language"], turn.slots.get("language")) if lang)
        if any(not self.registry.full(lang) and self.texts.asks_to_delete(turn.text, lang) for lang in told_in):
            return "stop_delete", "the privacy notice's words"
        numbers_first = not self.registry.full(slots["language"])
        threshold = settings.laughing_crisis_threshold if joking else settings.crisis_threshold
        if score and score.probability >= threshold:
            return (turn.intent if turn.intent in RISK_NEEDS else score.likeliest), "risk classifier"
        if turn.intent in RISK_NEEDS:  # the intent classifier: dramatic words are often not a crisis
            both = (turn.confidence + (score.probability if score else 0.0)) / 2  # the two classifiers' mean
            if both >= settings.intent_agreement_threshold and not joking:
                return turn.intent, "intent, risk classifier agrees"
            return "check_in", "intent, risk classifier disagrees"
        number = parse_choice(turn.text)
        menu = slots["menu"]
        if number is not None:
            return (f"{CHOICE}{number}", "menu") if menu else ("out_of_scope", "number without menu")
        if menu in ("country", "confirm_country") and turn.intent in (
            *UNCLEAR_INTENTS,
            "give_country",
            "need_helpline",
        ):
            return "give_country", "country menu"
        if numbers_first:
            return "numbers_first", "a language we recognise but don't fully speak"
        if turn.intent not in UNCLEAR_INTENTS:
            return turn.intent, "intent"
        if risk and risk.best().probability >= settings.unsure_threshold:
            return "check_in", "unclear intent, some risk"
        return "out_of_scope", "unclear intent"

    def _reply(self, need: str, turn: Turn, out: Outcome, pending_menu: Optional[str]) -> None:
        """The need's steps (bot.conversation.needs), in order; first, a handoff as urgent as the
        need, where the child's helpline takes conversations."""
        row = need_row(need)
        if row.urgency is not None and self.desks.get(out.slots["country"]):
            out.handoff = HandoffRequest(row.urgency, need)
        reply = _Reply(need, turn, out, pending_menu)
        steps = NUMBERS_FIRST_CRISIS if row.risk and not self.registry.full(out.slots["language"]) else row.steps
        for step in steps:
            self._steps[step.do](reply, step)

    # -- the steps of replies -----------------------------------------------------------------

    def _step_functions(self) -> dict[Do, Callable[[_Reply, Step], None]]:
        """What each kind of step does (bot.conversation.needs.Do)."""
        steps: dict[Do, Callable[[_Reply, Step], None]] = {
            Do.SAY: lambda r, step: self._say(r.out, _text(step)),
            Do.EMERGENCY: lambda r, step: self._emergency_once(r.out),
            Do.HELPLINE: lambda r, step: self._contact_or_ask(r.out, r.need),
            Do.HELPLINE_IF_KNOWN: lambda r, step: self._contact_or_ask(r.out, r.need, ask=False),
            Do.HOTLINE: lambda r, step: self._hotline(r.out),
            Do.ASK_COUNTRY: lambda r, step: self._ask_country_if_unknown(r.out, resume=None),
            Do.MAIN_MENU: lambda r, step: self._main_menu(r.out),
            Do.OFFER_PERSON: lambda r, step: self._offer_person(r.out, _text(step), only_with_desk=True),
            Do.CONFIRM_STOP: lambda r, step: self._confirm_stop(r.out, _text(step)),
            Do.PRIVACY: lambda r, step: r.out.messages.append(self._privacy_text(r.out.slots["language"])),
            Do.FULL_LANGUAGES: lambda r, step: self._full_languages(r.out),
            Do.MENU_CHOICE: lambda r, step: self._menu_choice(_number(r.need), r.turn, r.out, r.pending_menu),
            Do.GIVE_COUNTRY: lambda r, step: self._give_country(r.turn, r.out, r.pending_menu),
            Do.CHANGE_LANGUAGE: lambda r, step: self._change_language(r.turn, r.out),
            Do.PLAIN_LANGUAGE: lambda r, step: self._plain_language(r.out),
            Do.MISUNDERSTOOD: lambda r, step: self._misunderstood(r.out),
        }
        missing = [do.value for do in Do if do not in steps]
        if missing:
            raise NotImplementedError(f"steps without a function: {', '.join(missing)}")
        return steps

    def _offer_person(self, out: Outcome, prompt: str, only_with_desk: bool = False) -> None:
        """Talk to a person? A yes/no menu; ``only_with_desk``: only where the child's helpline takes
        conversations."""
        if not only_with_desk or self.desks.get(out.slots["country"]):
            self._menu(out, "offer_person", self.texts.get(prompt, out.slots["language"]), OFFER_PERSON_MENU)

    def _confirm_stop(self, out: Outcome, prompt: str) -> None:
        self._menu(out, "confirm_stop", self.texts.get(prompt, out.slots["language"]), CONFIRM_STOP_MENU)

    def _full_languages(self, out: Outcome) -> None:
        names = ", ".join(language.name for language in self.registry.languages.values())
        out.messages.append(BotMessage(self.texts.get("full_languages", out.slots["language"], languages=names)))

    def _plain_language(self, out: Outcome) -> None:
        """A switch: the answer already speaks the chosen way."""
        out.slots["plain"] = None if out.slots["plain"] else "1"
        with self.texts.plain_language(bool(out.slots["plain"])):
            self._say(out, "plain_on" if out.slots["plain"] else "plain_off")

    def _misunderstood(self, out: Outcome) -> None:
        """We didn't understand: say so and show the main menu; the second time in a row, offer a person."""
        if out.slots.get("misunderstood"):
            out.slots["misunderstood"] = None
            self._offer_person(out, "offer_person")
        else:
            out.slots["misunderstood"] = "1"
            self._say(out, "out_of_scope")
            self._main_menu(out)

    def fallback(
        self, text: str, metadata: Optional[Mapping[str, Any]], now: Optional[dt.datetime] = None
    ) -> list[BotMessage]:
        """What a channel sends when Rasa or the action server fails or is too slow.

        Never silence: the helpline and the emergency number of the child's country (or the
        advice to call the local one), in the best language known from the text and the hints.
        """
        hints = ChannelHints.lenient(metadata)
        language = self.detector.decide(text, LanguageHints(declared=hints.language, country=hints.country)).language
        return self.numbers(language, hints.country, hints.channel, self.texts.get("fallback_intro", language), now)

    def numbers(
        self,
        language: str,
        country: Optional[str],
        channel: Optional[str],
        intro: Optional[str] = None,
        now: Optional[dt.datetime] = None,
    ) -> list[BotMessage]:
        """The helpline of ``country`` and the emergency number, e.g. for a page to show before
        anything can fail."""
        out = self._helpline_reply("fallback", language, country, channel, intro, now)
        out.messages.append(self._emergency_message(out))
        return out.messages

    def only_words(self, metadata: Optional[Mapping[str, Any]], alone: bool = False) -> list[BotMessage]:
        """The kind answer to a picture, sticker or voice message: we don't look at them or keep
        them. ``alone`` (nothing written with it): the numbers too, as we can't know what it says."""
        hints = ChannelHints.lenient(metadata)
        language = self.registry.normalise(hints.language) or next(
            iter(self.registry.of_country(hints.country)), self.registry.default
        )
        said = [BotMessage(self.texts.get("only_words", language))]
        return said + self.numbers(language, hints.country, hints.channel) if alone else said

    # -- pieces of replies ------------------------------------------------------------------

    def _say(self, out: Outcome, key: str) -> None:
        out.messages.append(BotMessage(self.texts.get(key, out.slots["language"])))

    def _contact_or_ask(self, out: Outcome, need: str, ask: bool = True) -> None:
        """The child's helpline, or an honest 'none yet', or (if we don't know the country) a question."""
        lang, country = out.slots["language"], out.slots["country"]
        entry = self.table.get(country)
        advice = advise(entry, out.channel, out.now) if entry else None
        if advice:
            offer = advice.offer
            notes = [self.texts.get("helpline_free", lang)] if offer.helpline.free else []
            if offer.state and offer.state.always:
                notes.append(self.texts.get("helpline_24_7", lang))
            elif offer.open and offer.state and offer.state.closes_at:
                notes.append(self.texts.get("open_until", lang, when=self._when(offer.state.closes_at, lang, out.now)))
            elif offer.closed and offer.state and offer.state.opens_at:
                notes.append(self.texts.get("closed_now", lang, when=self._when(offer.state.opens_at, lang, out.now)))
            text = self.texts.get(
                "helpline_contact", lang, name=offer.helpline.name, how=self._how(offer, lang), notes=" ".join(notes)
            )
            out.gave_helpline = True
            if out.country_assumed:
                text += "\n" + self.texts.get("country_assumed", lang, country=self._country_name(country, lang))
            out.messages.append(BotMessage(text))
            if advice.open_instead:
                other = advice.open_instead
                out.messages.append(
                    BotMessage(
                        self.texts.get("open_instead", lang, name=other.helpline.name, how=self._how(other, lang))
                    )
                )
            elif offer.closed and need not in CRISIS_INTENTS:
                out.messages.append(self._emergency_message(out))
        elif country:
            name = self._country_name(country, lang)
            out.messages.append(BotMessage(self.texts.get("no_helpline", lang, country=name)))
            out.gave_helpline = True
            if need not in CRISIS_INTENTS:
                out.messages.append(self._emergency_message(out))
        elif ask:
            self._ask_country_if_unknown(out, resume=need)

    def _how(self, offer: Offer, lang: str) -> str:
        """How to use one contact: "Call 116.", "Write to them on WhatsApp: +254...", a chat link;
        worded by the text CONTACT_TEXTS names for its method."""
        contact = offer.contact
        key = CONTACT_TEXTS[contact.method]
        if contact.number:  # WhatsApp needs the international form; calls and texts the one dialled at home
            number = (
                contact.number.e164 if contact.method == "whatsapp" and contact.number.e164 else contact.number.dial
            )
            return self.texts.get(key, lang, number=number)
        if contact.method == "telegram":
            return self.texts.get(key, lang, handle=contact.address)
        return self.texts.get(key, lang, url=contact.address)

    def _when(self, moment: dt.datetime, language: str, now: dt.datetime) -> str:
        """A time in the helpline's zone, in the child's language: "16:15" today, else "Monday 16:15"."""
        locale = self.registry.locale(language)
        if moment.date() == now.astimezone(moment.tzinfo).date():
            return format_time(moment, "short", locale=locale)
        return format_skeleton("EEEEHm", moment, locale=locale)

    def _hotline(self, out: Outcome) -> None:
        entry = self.table.get(out.slots["country"])
        if entry and entry.hotline:
            lang = out.slots["language"]
            out.messages.append(
                BotMessage(self.texts.get("hotline", lang, name=entry.hotline.name, url=entry.hotline.report_url))
            )

    def _country_name(self, code: str, lang: str) -> str:
        return self.countries.name(code, self.registry.locale(lang))

    def _emergency_once(self, out: Outcome) -> None:
        """The emergency number, unless the reply already gave it (with "no helpline here", say)."""
        if not out.gave_emergency:
            out.messages.append(self._emergency_message(out))

    def _emergency_message(self, out: Outcome) -> BotMessage:
        """The country's emergency number when we have it, else the advice to call the local one."""
        out.gave_emergency = True
        entry = self.table.get(out.slots["country"])
        if entry and entry.emergency:
            return BotMessage(
                self.texts.get("emergency_known", out.slots["language"], emergency=entry.emergency[0].number.dial)
            )
        return BotMessage(self.texts.get("emergency_unknown", out.slots["language"]))

    def _ask_country_if_unknown(self, out: Outcome, resume: Optional[str]) -> None:
        """Ask, with a numbered list of the countries most likely for the conversation's language."""
        if not out.slots["country"]:
            lang = out.slots["language"]
            choices = tuple((self._country_name(code, lang), code) for code in self._likely_countries(lang))
            self._menu(out, "country", self.texts.get("ask_country", lang), choices, translate=False)
            out.slots["resume"] = resume

    def _likely_countries(self, lang: str) -> list[str]:
        full = self.registry.languages.get(lang)
        if full:
            return [code for code in full.countries if code in self.table]
        return [code for code in self.table.codes if lang in self.registry.spoken_in(code)][:MENU_COUNTRIES]

    def _give_country(self, turn: Turn, out: Outcome, pending_menu: Optional[str]) -> None:
        found = self.countries.match(turn.text)
        lang = out.slots["language"]
        if not found:
            out.messages.append(BotMessage(self.texts.get("country_unknown", lang)))
            out.slots["menu"] = "country"
            return
        if not found.sure:  # a typo or a demonym: check before relying on it
            out.slots["country_guess"] = found.code
            self._menu(
                out,
                "confirm_country",
                self.texts.get("confirm_country", lang, country=self._country_name(found.code, lang)),
                CONFIRM_COUNTRY_MENU,
            )
            return
        self._set_country(found.code, turn, out)

    def _set_country(self, code: str, turn: Turn, out: Outcome) -> None:
        out.slots["country"], out.slots["country_guess"] = code, None
        lang = out.slots["language"]
        out.messages.append(BotMessage(self.texts.get("country_set", lang, country=self._country_name(code, lang))))
        resume, out.slots["resume"] = out.slots["resume"], None
        if resume:
            self._reply(resume, turn, out, None)

    def _change_language(self, turn: Turn, out: Outcome) -> None:
        named = [code for code in self.registry.named_in(turn.text) if code != out.slots["language"]]
        if len(named) == 1:
            self._set_language(named[0], out)
            return
        choices = tuple((self.registry.language(code).name, code) for code in self._language_choices(out.slots))
        self._menu(out, "language", self.texts.get("language_menu", out.slots["language"]), choices, translate=False)

    def _language_choices(self, slots: Mapping[str, Any]) -> list[str]:
        """The languages the menu offers: the country's that the bot fully speaks, then the first listed."""
        local = [code for code in self.registry.spoken_in(slots.get("country")) if code in self.registry.languages]
        return list(dict.fromkeys([*local, *self.registry.codes]))[:MENU_LANGUAGES]

    def _set_language(self, code: str, out: Outcome) -> None:
        out.slots["language"] = code
        out.messages.append(BotMessage(self.texts.get("language_set", code)))

    def _main_menu(self, out: Outcome) -> None:
        self._menu(out, "main", self.texts.get("menu_prompt", out.slots["language"]), MAIN_MENU)

    def _menu(self, out: Outcome, name: str, prompt: str, options: Options, translate: bool = True) -> None:
        """A question with numbered answers, written out as lines so it works on SMS and screen readers."""
        lines, choices = self.numbered(out.slots["language"], options, translate)
        out.messages.append(BotMessage(f"{prompt}\n{lines}", choices))
        out.slots["menu"] = name

    def numbered(self, lang: str, options: Options, translate: bool = True) -> tuple[str, tuple[Choice, ...]]:
        """Options as numbered lines ("1. Yes") and as the matching buttons."""
        titles = [self.texts.get(key, lang) if translate else key for key, _ in options]
        lines = "\n".join(f"{i}. {title}" for i, title in enumerate(titles, start=1))
        return lines, tuple(Choice(i, title) for i, title in enumerate(titles, start=1))

    def _menu_choice(self, number: int, turn: Turn, out: Outcome, menu: Optional[str]) -> None:
        options = self._menu_options(menu, out.slots)
        if not 1 <= number <= len(options):
            self._reply("out_of_scope", turn, out, None)
            return
        target = options[number - 1]
        if menu == "language":
            self._set_language(target, out)
        elif menu == "country":
            self._set_country(target, turn, out)
        elif target == "country_confirmed" and out.slots["country_guess"]:
            self._set_country(out.slots["country_guess"], turn, out)
        elif target == "country_rejected":
            out.slots["country_guess"] = None
            self._ask_country_if_unknown(out, out.slots["resume"])
        elif target == "stop_confirmed":
            out.messages.append(BotMessage(self.texts.get("deleted", out.slots["language"])))
            out.erase = True
        elif target == "stop_cancelled":
            out.messages.append(BotMessage(self.texts.get("not_stopped", out.slots["language"])))
        else:
            out.need = target
            self._reply(target, turn, out, None)

    def _menu_options(self, menu: Optional[str], slots: Mapping[str, Any]) -> list[str]:
        if menu == "language":
            return self._language_choices(slots)
        if menu == "country":
            return self._likely_countries(slots["language"])
        if menu == "confirm_country":
            return [need for _, need in CONFIRM_COUNTRY_MENU]
        if menu == "offer_person":
            return [need for _, need in OFFER_PERSON_MENU]
        if menu == "confirm_stop":
            return [need for _, need in CONFIRM_STOP_MENU]
        if menu == "main":
            return [need for _, need in MAIN_MENU]
        return []
