"""The numbers-first tier: a child who writes in a language the bot recognises but does not fully
speak is answered in that language, with their helpline and emergency number; every routed
country's official or majority language is recognised (data/languages.yml, data/texts/numbers/)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from babel.languages import get_official_languages, get_territory_language_info

from bot import DATA_DIR
from bot.conversation.dialogue import Dialogue, Outcome, Turn
from bot.conversation.needs import RISK_NEEDS
from bot.datafiles.yamlfile import ConfigError
from bot.language.texts import Texts
from scripts.language_table import table as language_table
from tests.numbers import TABLE
from tests.test_floor import has_both, numbers, text_of

# CLDR codes of a routed country's language that the bot answers as another: Arabic's spoken forms
# are written to it in Arabic, Cantonese, Hokkien and Hakka in Chinese characters, Swiss German in
# German, Fiji Hindi as Hindi, Nynorsk as Norwegian (Bokmål); Hiri Motu speakers get Tok Pisin's or English.
ANSWERED_AS = {
    "ary": "ar", "arq": "ar", "aeb": "ar", "apc": "ar", "apd": "ar",
    "yue": "zh", "nan": "zh", "hak": "zh", "gsw": "de", "hif": "hi", "nn": "nb", "no": "nb", "ho": "tpi",
}  # fmt: skip


# Written the same way, told apart only by the country: a Bosnian answer to a Serbian child in Bosnia is right.
ALIKE = {lang: {"bs", "hr", "sr"} for lang in ("bs", "hr", "sr")}


def country_languages(code: str) -> list[str]:
    """The official languages of a country (CLDR, de facto too) and the one most people speak."""
    tags = list(get_official_languages(code, de_facto=True))
    spoken = get_territory_language_info(code)
    if spoken:
        tags.append(max(spoken, key=lambda tag: spoken[tag]["population_percent"]))
    return list(dict.fromkeys(ANSWERED_AS.get(t.split("_")[0], t.split("_")[0]) for t in tags))


def example(language: str) -> str:
    """A message in ``language`` as children write it: its longest language-ID example (most signal)."""
    examples = yaml.safe_load((DATA_DIR / "language_id" / f"{language}.yml").read_text(encoding="utf-8"))["examples"]
    return max(examples, key=len)


def first_turn(dialogue: Dialogue, text: str, country: str) -> Outcome:
    return dialogue.respond(Turn(text=text, intent="greet", confidence=0.9, metadata={"country": country}))


def test_every_routed_countrys_languages_are_recognised(dialogue):
    missing = {
        country: [lang for lang in country_languages(country) if not dialogue.registry.recognise(lang)]
        for country in dialogue.table.codes
    }
    assert {country: langs for country, langs in missing.items() if langs} == {}


@pytest.mark.parametrize("country", sorted(TABLE.codes))
def test_a_child_writing_in_their_countrys_language_gets_both_numbers_in_it(dialogue, country):
    for language in country_languages(country):
        if dialogue.registry.full(language):
            continue  # the full languages' own tests (test_dialogue, test_conversations) cover them
        text = example(language)
        out = first_turn(dialogue, text, country)
        assert out.language in ALIKE.get(language, {language}), (country, text)
        said = text_of(out)
        own = ("crisis_kind",) if out.need in RISK_NEEDS else ("numbers_intro",)
        assert all(dialogue.texts.get(key, out.language) in said for key in own), (country, text, said)
        helplines, emergency = numbers(dialogue, country)
        if helplines and emergency:
            assert has_both(dialogue, out, country), (country, language, said)
        else:  # no verified helpline or emergency number: the reply says so, in the child's language
            assert out.gave_helpline and out.gave_emergency, (country, language, said)
            assert all(n in said for n in emergency[:1]), (country, language, said)


def test_numbers_first_languages_have_every_text_of_the_tier(dialogue):
    keys = ("numbers_intro", "full_languages", "helpline_contact", "contact_phone", "emergency_known", "crisis_kind")
    lacking = {
        lang: [key for key in keys if not dialogue.texts.has(key, lang)] for lang in dialogue.registry.numbers_first
    }
    assert {lang: keys for lang, keys in lacking.items() if keys} == {}


@pytest.mark.parametrize(
    "language, country, text",
    [
        ("cs", "CZ", "chci se zabít"),
        ("uk", "UA", "тато мене б'є"),
        ("sv", "SE", "jag vill dö"),
        ("ro", "RO", "vreau sa mor"),
        ("hu", "HU", "meghalni akarok"),
    ],
)
def test_a_crisis_in_a_numbers_first_language_gets_the_emergency_number_first(dialogue, language, country, text):
    """The language's own crisis words; the emergency number comes first, then kind words in the child's language."""
    out = first_turn(dialogue, text, country)
    assert out.need in RISK_NEEDS and out.language == language
    _, emergency = numbers(dialogue, country)
    assert emergency[0] in out.messages[0].text
    assert out.messages[1].text == dialogue.texts.get("crisis_kind", language)


def test_the_next_turn_stays_in_the_childs_language(dialogue):
    out = first_turn(dialogue, "ahoj, potřebuju pomoc", "CZ")
    assert out.language == "cs"
    again = dialogue.respond(Turn(text="díky", intent="thanks_bye", confidence=0.9, slots=out.slots))
    assert again.language == "cs" and dialogue.texts.get("numbers_intro", "cs") in text_of(again)


def test_a_text_a_numbers_first_language_lacks_comes_in_the_countrys_language(tmp_path: Path):
    folder = tmp_path / "texts"
    (folder / "numbers").mkdir(parents=True)
    head = "review: {state: machine draft}\ntexts:\n"
    (folder / "en.yml").write_text(head + '  greet: "Hi"\n  emergency_known: "Call {emergency}."\n', encoding="utf-8")
    (folder / "fr.yml").write_text(
        head + '  greet: "Salut"\n  emergency_known: "Appelle le {emergency}."\n', encoding="utf-8"
    )
    (folder / "numbers" / "it.yml").write_text(
        'review: {state: machine draft}\ntexts:\n  emergency_known: "Chiama il {emergency}."\n', encoding="utf-8"
    )
    texts = Texts.load(["en", "fr"], "en", folder, numbers_first=["it"])
    assert texts.get("emergency_known", "it", emergency="112") == "Chiama il 112."
    assert texts.get("greet", "it") == "Hi"
    with texts.falling_back_to("fr"):
        assert texts.get("greet", "it") == "Salut"
    assert (texts.reviewed("it").texts, texts.reviewed("it").reviewed) == (1, 0)


@pytest.mark.parametrize(
    "body, field",
    [
        ('review: {state: machine draft}\ntexts:\n  nope: "x"\n', "texts.nope"),
        ('review: {state: machine draft}\ntexts:\n  emergency_known: "Chiama {numero}."\n', "texts.emergency_known"),
        ('review: {state: done}\ntexts:\n  greet: "Ciao"\n', "review.state"),
    ],
)
def test_a_broken_numbers_first_file_is_refused_with_its_field(tmp_path: Path, body: str, field: str):
    folder = tmp_path / "texts"
    (folder / "numbers").mkdir(parents=True)
    (folder / "en.yml").write_text(
        'review: {state: machine draft}\ntexts:\n  greet: "Hi"\n  emergency_known: "Call {emergency}."\n',
        encoding="utf-8",
    )
    (folder / "numbers" / "it.yml").write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Texts.load(["en"], "en", folder, numbers_first=["it"])
    assert field in str(caught.value) and "it.yml" in str(caught.value)


def test_the_words_the_privacy_notice_gives_delete_everything_in_every_numbers_first_language(dialogue):
    """The notice says "write 'delete my data'" in the child's language: writing it must work."""
    for language in dialogue.registry.numbers_first:
        phrase = dialogue.texts.delete_phrase(language)
        assert phrase and phrase in dialogue.texts.get("privacy_notice", language, days=30), language
        country = next(code for code in TABLE.codes if language in dialogue.registry.spoken_in(code))
        slots = {"language": language, "privacy_told": "1"}
        out = dialogue.respond(
            Turn(text=f"{phrase} pls", intent="greet", confidence=0.9, slots=slots, metadata={"country": country})
        )
        assert out.need == "stop_delete" and out.slots["menu"] == "confirm_stop", (language, phrase)
    assert not dialogue.texts.asks_to_delete("ciao, ho bisogno di aiuto", "it")


@pytest.mark.parametrize(
    "language, phrase",
    [
        ("it", "cancella i miei dati"),
        ("gn", "emboguepa che mba'e"),  # an apostrophe inside the quotes
        ("tet", "hamoos ha'u-nia dadus"),
        ("ja", "データを消して"),  # corner brackets, no spaces
        ("ko", "내 기록 삭제"),
        ("da", "slet mine data"),  # »...«
        ("en", "delete my data"),
    ],
)
def test_the_delete_phrase_is_the_quoted_one(dialogue, language, phrase):
    assert dialogue.texts.delete_phrase(language) == phrase


def test_the_readme_lists_every_language_with_its_tier_and_review_state(dialogue):
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert language_table(dialogue) in readme, "run python -m scripts.language_table and paste it into the README"
