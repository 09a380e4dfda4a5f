"""What the bot says to a message: the one place where the conversation's rules live.

Rasa classifies the message and keeps the conversation; this module decides the reply from the
intent, the text and the conversation's state (its slots), so the same rules serve every channel
and can be tested without Rasa. Two things can overrule the classifier: the crisis safety net
(always first), and a numbered menu the child is answering.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from bot.countries import CountryNames
from bot.helplines import RoutingTable
from bot.hints import ChannelHints
from bot.input_text import has_words
from bot.language import LanguageDetector, LanguageHints, LanguageRegistry
from bot.texts import Texts
from bot.triage import CRISIS_INTENTS, CrisisNet, overrule

# Slots the dialogue reads and writes (declared in domain.yml).
SLOTS = ("language", "country", "menu", "resume")

MAIN_MENU = (
    ("option_helpline", "need_helpline"),
    ("option_danger", "danger_now"),
    ("option_human", "talk_to_human"),
    ("option_tips", "safety_tips"),
    ("option_language", "change_language"),
)
CONFIRM_STOP_MENU = (("option_yes", "stop_confirmed"), ("option_no", "stop_cancelled"))
# Needs that are answered with the child's helpline, so they need a country first.
NEEDS_HELPLINE = ("need_helpline", "talk_to_human", "online_sexual_abuse", "cyberbullying", "report_content")
UNCLEAR_INTENTS = (None, "", "nlu_fallback", "out_of_scope", "choose_option")


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

    text: str  # already cleaned by bot.input_text.clean
    intent: Optional[str] = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    metadata: Optional[Mapping[str, Any]] = None


@dataclass
class Outcome:
    need: str  # what the bot answered: the intent after the safety net and menus
    language: str
    messages: list[BotMessage] = field(default_factory=list)
    slots: dict[str, Any] = field(default_factory=dict)  # every slot in SLOTS, as it is now


def parse_choice(text: str) -> Optional[int]:
    """A bare menu number such as "2", "2.", "٢" or "２"; None for anything else."""
    stripped = text.strip().rstrip(".)").strip()
    if not stripped or len(stripped) > 2 or not all(unicodedata.decimal(ch, None) is not None for ch in stripped):
        return None
    return int("".join(str(unicodedata.decimal(ch)) for ch in stripped))


class Dialogue:
    """Decides replies; built once at start-up from the data files (which it validates)."""

    def __init__(
        self,
        registry: LanguageRegistry,
        detector: LanguageDetector,
        texts: Texts,
        crisis: CrisisNet,
        table: RoutingTable,
        countries: CountryNames,
    ) -> None:
        self.registry = registry
        self.detector = detector
        self.texts = texts
        self.crisis = crisis
        self.table = table
        self.countries = countries

    @classmethod
    def load(cls) -> "Dialogue":
        """Load and validate every data file; raises bot.yamlfile.ConfigError if one is broken."""
        registry = LanguageRegistry()
        return cls(
            registry=registry,
            detector=LanguageDetector.load(registry),
            texts=Texts.load(registry.codes, registry.default),
            crisis=CrisisNet.load(registry.codes),
            table=RoutingTable.load(),
            countries=CountryNames(locale for lang in registry.languages.values() for locale in lang.locales),
        )

    # -- the turn ---------------------------------------------------------------------------

    def respond(self, turn: Turn) -> Outcome:
        hints = ChannelHints.lenient(turn.metadata)
        slots = {name: turn.slots.get(name) for name in SLOTS}
        if not slots["country"] and hints.country:
            slots["country"] = hints.country
        decision = self.detector.decide(
            turn.text, LanguageHints(current=slots["language"], declared=hints.language, country=slots["country"])
        )
        slots["language"] = decision.language
        need = self._need(turn, slots)
        outcome = Outcome(need=need, language=decision.language, slots=slots)
        pending_menu, slots["menu"] = slots["menu"], None
        self._reply(need, turn, outcome, pending_menu)
        outcome.language = slots["language"]
        return outcome

    def _need(self, turn: Turn, slots: dict[str, Any]) -> str:
        """The need to answer: crisis first, then a menu answer, then the classifier's intent."""
        if not turn.text:
            return "empty_message"
        if not has_words(turn.text) and turn.intent in UNCLEAR_INTENTS:
            return "out_of_scope"
        intent = overrule(turn.intent, self.crisis.check(turn.text))
        if intent in CRISIS_INTENTS:
            return intent
        number = parse_choice(turn.text)
        menu = slots["menu"]
        if number is not None:
            return f"choice:{number}" if menu else "out_of_scope"
        if menu == "country" and intent in (*UNCLEAR_INTENTS, "give_country", "need_helpline"):
            return "give_country"
        return intent if intent not in UNCLEAR_INTENTS else "out_of_scope"

    def _reply(self, need: str, turn: Turn, out: Outcome, pending_menu: Optional[str]) -> None:
        if need.startswith("choice:"):
            self._menu_choice(int(need.split(":")[1]), turn, out, pending_menu)
            return
        say = self._say(out)
        lang = out.slots["language"]
        if need == "greet":
            say("greet")
            self._main_menu(out)
        elif need == "danger_now":
            out.messages.append(self._emergency_message(out))
            say("danger_now")
            self._contact_or_ask(out, need, ask=False)
        elif need == "self_harm":
            say("self_harm")
            self._contact_or_ask(out, need, ask=False)
            out.messages.append(self._emergency_message(out))
            self._ask_country_if_unknown(out, resume=None)
        elif need in NEEDS_HELPLINE:
            if need != "need_helpline":
                say(need)
            self._contact_or_ask(out, need)
        elif need == "give_country":
            self._give_country(turn, out, pending_menu)
        elif need == "change_language":
            self._change_language(turn, out)
        elif need == "stop_delete":
            self._menu(out, "confirm_stop", self.texts.get("confirm_stop", lang), CONFIRM_STOP_MENU)
        elif need in ("privacy_question", "safety_tips", "thanks_bye"):
            say({"privacy_question": "privacy"}.get(need, need))
        elif need == "empty_message":
            say("empty_message")
            self._main_menu(out)
        else:
            say("out_of_scope")
            self._main_menu(out)

    # -- pieces of replies ------------------------------------------------------------------

    def _say(self, out: Outcome):
        def say(key: str, **values: object) -> None:
            out.messages.append(BotMessage(self.texts.get(key, out.slots["language"], **values)))

        return say

    def _contact_or_ask(self, out: Outcome, need: str, ask: bool = True) -> None:
        """The child's helpline, or an honest 'none yet', or (if we don't know the country) a question."""
        lang, country = out.slots["language"], out.slots["country"]
        entry = self.table.get(country)
        if entry and entry.helplines:
            line = entry.helplines[0]
            notes = " ".join(
                self.texts.get(key, lang)
                for key, applies in (("helpline_free", line.free), ("helpline_24_7", line.always_open))
                if applies
            )
            out.messages.append(BotMessage(self.texts.get("helpline_contact", lang, name=line.name, phone=line.phone, notes=notes)))
        elif country:
            name = self.countries.name(country, self.registry.languages[lang].locale)
            out.messages.append(BotMessage(self.texts.get("no_helpline", lang, country=name)))
            if need not in CRISIS_INTENTS:
                out.messages.append(self._emergency_message(out))
        elif ask:
            self._ask_country_if_unknown(out, resume=need)

    def _emergency_message(self, out: Outcome) -> BotMessage:
        """The country's emergency number when we have it, else the advice to call the local one."""
        entry = self.table.get(out.slots["country"])
        if entry and entry.emergency:
            return BotMessage(self.texts.get("emergency_known", out.slots["language"], emergency=entry.emergency[0].number))
        return BotMessage(self.texts.get("emergency_unknown", out.slots["language"]))

    def _ask_country_if_unknown(self, out: Outcome, resume: Optional[str]) -> None:
        if not out.slots["country"]:
            out.messages.append(BotMessage(self.texts.get("ask_country", out.slots["language"])))
            out.slots["menu"], out.slots["resume"] = "country", resume

    def _give_country(self, turn: Turn, out: Outcome, pending_menu: Optional[str]) -> None:
        found = self.countries.find(turn.text)
        lang = out.slots["language"]
        if not found:
            out.messages.append(BotMessage(self.texts.get("country_unknown", lang)))
            out.slots["menu"] = "country"
            return
        out.slots["country"] = found
        name = self.countries.name(found, self.registry.languages[lang].locale)
        out.messages.append(BotMessage(self.texts.get("country_set", lang, country=name)))
        resume, out.slots["resume"] = out.slots["resume"], None
        if resume and pending_menu == "country":
            self._reply(resume, turn, out, None)

    def _change_language(self, turn: Turn, out: Outcome) -> None:
        named = [code for code in self.registry.named_in(turn.text) if code != out.slots["language"]]
        if len(named) == 1:
            self._set_language(named[0], out)
            return
        choices = tuple((lang.name, code) for code, lang in self.registry.languages.items())
        self._menu(out, "language", self.texts.get("language_menu", out.slots["language"]), choices, translate=False)

    def _set_language(self, code: str, out: Outcome) -> None:
        out.slots["language"] = code
        out.messages.append(BotMessage(self.texts.get("language_set", code)))

    def _main_menu(self, out: Outcome) -> None:
        self._menu(out, "main", self.texts.get("menu_prompt", out.slots["language"]), MAIN_MENU)

    def _menu(self, out: Outcome, name: str, prompt: str, options, translate: bool = True) -> None:
        """A question with numbered answers, written out as lines so it works on SMS and screen readers."""
        lang = out.slots["language"]
        titles = [self.texts.get(key, lang) if translate else key for key, _ in options]
        lines = "\n".join(f"{i}. {title}" for i, title in enumerate(titles, start=1))
        choices = tuple(Choice(i, title) for i, title in enumerate(titles, start=1))
        out.messages.append(BotMessage(f"{prompt}\n{lines}", choices))
        out.slots["menu"] = name

    def _menu_choice(self, number: int, turn: Turn, out: Outcome, menu: Optional[str]) -> None:
        options = self._menu_options(menu)
        if not 1 <= number <= len(options):
            self._reply("out_of_scope", turn, out, None)
            return
        target = options[number - 1]
        if menu == "language":
            self._set_language(target, out)
        elif target == "stop_confirmed":
            out.messages.append(BotMessage(self.texts.get("stopped", out.slots["language"])))
            out.slots.update(country=None, menu=None, resume=None)
        elif target == "stop_cancelled":
            out.messages.append(BotMessage(self.texts.get("not_stopped", out.slots["language"])))
        else:
            out.need = target
            self._reply(target, turn, out, None)

    def _menu_options(self, menu: Optional[str]) -> list[str]:
        if menu == "language":
            return self.registry.codes
        if menu == "confirm_stop":
            return [need for _, need in CONFIRM_STOP_MENU]
        if menu == "main":
            return [need for _, need in MAIN_MENU]
        return []
