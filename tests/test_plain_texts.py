"""Plain-language texts (data/texts/plain/): complete, really plainer, and really used when switched on."""

import re

import pytest

from bot import DATA_DIR
from bot.conversation.dialogue import Turn
from bot.datafiles.yamlfile import load_mapping
from bot.language.detection import LanguageRegistry
from bot.language.texts import _PLACEHOLDER, Texts

PLAIN_DIR = DATA_DIR / "texts" / "plain"
REGISTRY = LanguageRegistry()
LANGUAGES = REGISTRY.codes
# The texts children meet most, and the longest: each must have a plain version in every language.
REQUIRED = {
    "greet",
    "menu_prompt",
    "out_of_scope",
    "empty_message",
    "no_helpline",
    "danger_now",
    "self_harm",
    "online_sexual_abuse",
    "cyberbullying",
    "report_content",
    "talk_to_human",
    "safety_tips",
    "privacy_notice",
    "only_words",
    "ask_country",
    "country_unknown",
    "fallback_intro",
    "emergency_known",
    "emergency_unknown",
    "offer_person",
    "confirm_stop",
    "deleted",
    "plain_on",
}
# Sentence ends: Latin, Arabic (؟), Urdu (۔), Devanagari and Bengali (।), Ethiopic (። ፧); Chinese and
# Japanese, written without spaces, are measured in characters between 。！？; Thai, whose spaces
# end phrases and sentences (it has no spaces between words), in characters between spaces.
_SENTENCE_END = re.compile(r"[.!?؟۔।።፧]+")
_UNSPACED = ("zh", "ja")
_ZH_SENTENCE_END = re.compile(r"[。！？]+")


def plain(lang):
    return load_mapping(PLAIN_DIR / f"{lang}.yml").data["texts"]


def regular(lang):
    return load_mapping(DATA_DIR / "texts" / f"{lang}.yml").data["texts"]


def mean_sentence_length(text, lang):
    """Mean words per sentence (characters per sentence for Chinese and Japanese)."""
    if lang in _UNSPACED:
        sentences = [s for s in _ZH_SENTENCE_END.split(text) if s.strip()]
        lengths = [len(re.sub(r"\s", "", s)) for s in sentences]
    elif lang == "th":
        lengths = [len(s) for s in re.split(r"[\s.!?]+", text) if s]
    else:
        sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
        lengths = [len(s.split()) for s in sentences]
    return sum(lengths) / len(lengths)


@pytest.fixture(scope="module")
def texts():
    return Texts.load(LANGUAGES, REGISTRY.default)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_plain_file_loads_and_is_used_when_switched_on(texts, lang):
    """Texts.load checks each plain text's key and placeholders; get() returns it in plain mode."""
    assert (PLAIN_DIR / f"{lang}.yml").exists()
    for key, value in plain(lang).items():
        values = {name: f"<{name}>" for name in _PLACEHOLDER.findall(value)}
        with Texts.plain_language(True):
            assert texts.get(key, lang, **values) == value.format(**values).strip()
        with Texts.plain_language(False):
            assert texts.get(key, lang, **values) == regular(lang)[key].format(**values).strip()


def test_every_language_has_the_same_plain_keys():
    keys = {lang: set(plain(lang)) for lang in LANGUAGES}
    reference = keys[REGISTRY.default]
    assert REQUIRED <= reference, sorted(REQUIRED - reference)
    for lang in LANGUAGES:
        assert keys[lang] == reference, (lang, sorted(keys[lang] ^ reference))


@pytest.mark.parametrize("lang", LANGUAGES)
def test_plain_texts_are_shorter_or_have_shorter_sentences(lang):
    usual = regular(lang)
    not_plainer = [
        key
        for key, value in plain(lang).items()
        if value != usual[key]
        and len(value) > len(usual[key])
        and mean_sentence_length(value, lang) >= mean_sentence_length(usual[key], lang)
    ]
    same = [key for key, value in plain(lang).items() if value.strip() == usual[key].strip()]
    assert not not_plainer and not same, (not_plainer, same)


def test_plain_texts_keep_the_placeholders_and_add_no_digits():
    for lang in LANGUAGES:
        usual = regular(lang)
        for key, value in plain(lang).items():
            assert set(_PLACEHOLDER.findall(value)) == set(_PLACEHOLDER.findall(usual[key])), (lang, key)
            assert not re.search(r"\d", _PLACEHOLDER.sub("", value)), (lang, key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_switch_changes_the_words_of_a_reply(dialogue, lang):
    slots = {"language": lang, "privacy_told": "1"}
    plain_reply = dialogue.respond(Turn(text="tips", intent="safety_tips", slots={**slots, "plain": "1"}))
    usual_reply = dialogue.respond(Turn(text="tips", intent="safety_tips", slots=slots))
    assert [m.text for m in plain_reply.messages] == [plain(lang)["safety_tips"].strip()]
    assert [m.text for m in usual_reply.messages] == [regular(lang)["safety_tips"].strip()]
    assert plain_reply.slots["plain"] == "1" and not usual_reply.slots["plain"]


def test_switching_on_answers_in_plain_words_and_switching_off_in_usual_ones(dialogue):
    on = dialogue.respond(
        Turn(text="/simple", metadata={"command": "simple"}, slots={"language": "en", "privacy_told": "1"})
    )
    assert on.slots["plain"] == "1"
    assert [m.text for m in on.messages] == [plain("en")["plain_on"]]
    off = dialogue.respond(Turn(text="/simple", metadata={"command": "simple"}, slots=on.slots))
    assert not off.slots["plain"]
    assert [m.text for m in off.messages] == [regular("en")["plain_off"]]
