"""QuickDetector gives langdetect's own answers (it is only faster): bot/language/quick_langdetect.py."""

from __future__ import annotations

import pytest
from langdetect import DetectorFactory
from langdetect import detect_langs as langdetect_detect_langs
from langdetect.lang_detect_exception import LangDetectException

from bot.language import detection  # noqa: F401 - seeds langdetect as the bot does
from bot.language.quick_langdetect import detect_langs

TEXTS = [
    "thank you bye",
    "i want to talk to someone about my stepdad",
    "someone is sending me messages and i dont like it",
    "je suis tres triste et seul ce soir",
    "mi amigo me pide fotos y tengo miedo",
    "nataka msaada tafadhali sasa hivi",
    "ich habe angst vor meinem vater",
    "estou com medo da minha escola",
    "мне страшно и я не знаю что делать",
    "أنا خائف ولا أعرف ماذا أفعل",
    "मुझे डर लग रहा है",
    "我很害怕，不知道怎么办",
    "io non so cosa fare adesso",
    "bana yardım et lütfen şimdi",
    "anh ơi em sợ quá",
    "tolong saya takut sekali",
    "안녕하세요 도와주세요",
    "Γεια σου, φοβάμαι",
    "ok",
    "hiiiii",
    "u there?? plz",
    "https://example.org hello there friend",
    "tôi cần giúp đỡ ngay bây giờ " * 40,
]


@pytest.mark.parametrize("text", TEXTS)
def test_the_same_languages_and_probabilities_as_langdetect(text: str) -> None:
    assert DetectorFactory.seed == 0
    expected = [(guess.lang, guess.prob) for guess in langdetect_detect_langs(text)]
    assert expected, "langdetect has an answer for every text here"
    assert [(guess.lang, guess.prob) for guess in detect_langs(text)] == expected


@pytest.mark.parametrize("text", ["", "12345 !!!", "   "])
def test_a_text_without_features_is_refused_as_langdetect_refuses_it(text: str) -> None:
    with pytest.raises(LangDetectException):
        langdetect_detect_langs(text)
    with pytest.raises(LangDetectException):
        detect_langs(text)
