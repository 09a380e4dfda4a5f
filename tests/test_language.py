"""Deciding a conversation's language from script, text, hints and the conversation so far."""

import pytest

from bot.language.detection import LanguageDetector, LanguageHints, LanguageRegistry, word_count


@pytest.fixture(scope="module")
def registry() -> LanguageRegistry:
    return LanguageRegistry()


@pytest.fixture(scope="module")
def detector(registry) -> LanguageDetector:
    return LanguageDetector.load(registry)


@pytest.mark.parametrize(
    "text, language",
    [("मदद चाहिए", "hi"), ("たすけて", "ja"), ("সাহায্য দরকার", "bn"), ("உதவி", "ta")],
)
def test_unambiguous_scripts(detector, text, language):
    decision = detector.decide(text)
    assert decision == decision.__class__(language, "script")


@pytest.mark.parametrize(
    "text, country, language",
    [
        ("помогите", None, "ru"),
        ("помогите мне пожалуйста, меня бьют дома", "UZ", "ru"),
        ("ёрдам керак", "UZ", "uz"),
        ("мени уйда уришяпти, нима қилай", "UZ", "uz"),
        ("мени уйда уришяпти, нима килай", None, "uz"),  # typed without ў қ ғ ҳ
    ],
)
def test_cyrillic_is_russian_or_uzbek_by_its_words_and_the_country(detector, text, country, language):
    assert detector.decide(text, LanguageHints(country=country)).language == language


@pytest.mark.parametrize(
    "text, country, language",
    [
        ("救命", "CN", "zh"),  # Han characters alone: Chinese or Japanese, the country says which
        ("我需要幫助", "TW", "zh"),
        ("我需要帮助", None, "zh"),
        ("死にたい", "JP", "ja"),
        ("مساعدة", "EG", "ar"),
        ("أريد المساعدة من فضلك", None, "ar"),
        ("مجھے مدد چاہیے", "PK", "ur"),
        ("مجھے کسی سے بات کرنی ہے", None, "ur"),
        ("کمک میخوام", "IR", "fa"),
        ("میخوام با یکی حرف بزنم", None, "fa"),
    ],
)
def test_languages_sharing_a_script_are_told_apart_by_their_words_and_the_country(detector, text, country, language):
    assert detector.decide(text, LanguageHints(country=country)).language == language


@pytest.mark.parametrize(
    "text, country, language",
    [
        ("hlp", "GB", "en"),
        ("ayuda porfa", "MX", "es"),
        ("nataka msaada", "KE", "sw"),
        ("nisaidie", "TZ", "sw"),
        ("socorro", "BR", "pt"),
        ("hilfe bitte", "DE", "de"),
        ("aidez moi", "SN", "fr"),
        ("mujhe madad chahiye", "IN", "hi"),
        ("ana 3ayez mosa3da", "EG", "ar"),
        # Romanised Hindi is learnt apart from Devanagari, so English-looking words do not drown it.
        ("baat karni hai", "IN", "hi"),
        ("koi sunega?", "IN", "hi"),
        ("servus", "AT", "de"),
        ("hi", None, "en"),  # nothing known: the default language
    ],
)
def test_short_messages_with_a_country_hint(detector, text, country, language):
    assert detector.decide(text, LanguageHints(country=country)).language == language


@pytest.mark.parametrize(
    "text, language",
    [
        ("someone keeps sending me messages and asking for pictures and i dont know what to do", "en"),
        ("quelqu'un m'envoie des messages bizarres et je sais pas quoi faire", "fr"),
        ("alguien me está molestando en instagram y no sé qué hacer", "es"),
        ("mtu ananitumia ujumbe mbaya kila siku na naogopa sana", "sw"),
        ("jemand schreibt mir komische nachrichten und ich weiß nicht was ich machen soll", "de"),
        ("alguém está me mandando mensagens estranhas e eu não sei o que fazer", "pt"),
    ],
)
def test_longer_messages_without_hints(detector, text, language):
    assert detector.decide(text).language == language


def test_a_short_message_never_switches_a_conversation(detector):
    for text in ("ok", "hi", "help", "si", "ja", "danke", "gracias"):
        assert detector.decide(text, LanguageHints(current="sw")).language == "sw", text


def test_a_longer_clear_message_switches(detector):
    decision = detector.decide(
        "hola necesito ayuda por favor alguien me amenaza en internet", LanguageHints(current="en")
    )
    assert decision.language == "es"


def test_declared_language_helps_short_messages(detector):
    assert detector.decide("ok", LanguageHints(declared="pt-BR")).language == "pt"


def test_no_letters_keeps_what_we_know(detector):
    assert detector.decide("😭😭", LanguageHints(current="de")).language == "de"
    assert detector.decide("😭", LanguageHints(country="FR")).language == "fr"
    assert detector.decide("!!!").language == "en"


def test_registry(registry):
    ten = ["en", "fr", "es", "ar", "ru", "zh", "pt", "sw", "hi", "de"]
    assert registry.codes == [
        *ten,
        "ur",
        "bn",
        "id",
        "ja",
        "ta",
        "fa",
        "vi",
        "tr",
        "fil",
        "it",
        "ps",
        "th",
        "ko",
        "am",
        "pl",
        "ms",
        "my",
        "nl",
        "yo",
        "uz",
    ]
    assert registry.normalise("pt-BR") == "pt" and registry.normalise("zh_Hant") == "zh"
    assert registry.normalise("tr-TR") == "tr" and registry.normalise("ja_JP") == "ja"
    assert registry.normalise("cs") is None and registry.normalise(None) is None
    assert registry.of_country("KE") == ["sw", "en"]
    assert registry.of_country("IN") == ["hi", "en"]
    assert "es" in registry.named_in("en español porfa")
    assert "ru" in registry.named_in("можно на русском")
    assert "en" in registry.named_in("can u speak english") and "en" in registry.named_in("can u speak inglish")


def test_word_count_counts_chinese_characters():
    assert word_count("i need help") == 3
    assert word_count("我需要帮助你好") >= 3


@pytest.mark.parametrize("text", ["o'zbekcha iltimos", "ozbekcha", "oʻzbek tilida", "o`zbekcha"])
def test_a_language_is_named_however_its_apostrophe_is_typed(registry, text):
    assert registry.named_in(text) == ["uz"]
