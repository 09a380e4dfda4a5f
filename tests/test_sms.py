"""SMS segment counts and splitting: replies to children on basic phones stay within 3 segments."""

from __future__ import annotations

import random

import pytest

from bot.conversation.sms import GSM7_BASIC, GSM7_EXTENDED, Segments, fits, segments, split


def _squash(text: str) -> str:
    """The text without any whitespace: what splitting must preserve."""
    return "".join(text.split())


def _check_split(text: str, parts: list[str], max_segments: int = 3) -> None:
    assert parts, "no parts"
    assert all(part.strip() for part in parts), f"an empty part in {parts!r}"
    for part in parts:
        assert segments(part).count <= max_segments, (segments(part), part)
    assert _squash(" ".join(parts)) == _squash(text)
    assert _squash("\n".join(parts)) == _squash(text)
    # Nothing but whitespace is lost between parts, and the parts are in order.
    position = 0
    for part in parts:
        found = text.find(part, position)
        assert found >= 0, f"part not found in order: {part!r}"
        assert not text[position:found].strip(), f"lost {text[position:found]!r}"
        position = found + len(part)
    assert not text[position:].strip()


# --- the alphabet ---


def test_gsm7_alphabet_sizes() -> None:
    assert len(GSM7_BASIC) == 127  # 128 code points less the escape to the extension table
    assert GSM7_EXTENDED == set("\f^{}\\[~]|€")
    assert not GSM7_BASIC & GSM7_EXTENDED


@pytest.mark.parametrize("char", ["@", "£", "é", "è", "Ñ", "ß", "Δ", "¿", "\n", "\r", " "])
def test_basic_gsm_characters(char: str) -> None:
    assert segments(char) == Segments("GSM-7", 1, 1)


@pytest.mark.parametrize("char", ["ê", "ç", "á", "’", "“", "ا", "中", "😀", "\t"])
def test_non_gsm_characters_switch_to_ucs2(char: str) -> None:
    assert segments("Hello " + char).encoding == "UCS-2"


# --- GSM-7 ---


def test_empty_text_is_one_segment() -> None:
    assert segments("") == Segments("GSM-7", 0, 1)


@pytest.mark.parametrize(
    ("length", "count"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4), (612, 4), (613, 5)],
)
def test_gsm7_segment_limits(length: int, count: int) -> None:
    assert segments("a" * length) == Segments("GSM-7", length, count)


def test_extended_characters_count_double() -> None:
    assert segments("€") == Segments("GSM-7", 2, 1)
    assert segments("{[|]}") == Segments("GSM-7", 10, 1)
    assert segments("a" * 158 + "€") == Segments("GSM-7", 160, 1)
    assert segments("a" * 159 + "€") == Segments("GSM-7", 161, 2)
    assert segments("^" * 80) == Segments("GSM-7", 160, 1)
    assert segments("^" * 81) == Segments("GSM-7", 162, 2)


def test_extended_character_is_not_split_across_segments() -> None:
    # 306 septets would be two segments of 153, but the € cannot straddle septets 153 and 154.
    text = "a" * 152 + "€" + "a" * 152
    assert segments(text) == Segments("GSM-7", 306, 3)
    # With the € wholly inside the first segment, two segments suffice.
    assert segments("a" * 151 + "€" + "a" * 153).count == 2


# --- UCS-2 ---


@pytest.mark.parametrize(
    ("length", "count"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_segment_limits(length: int, count: int) -> None:
    assert segments("ê" * length) == Segments("UCS-2", length, count)


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    assert segments("a" * 70).count == 1
    assert segments("a" * 69 + "ê") == Segments("UCS-2", 70, 1)
    assert segments("a" * 70 + "ê") == Segments("UCS-2", 71, 2)
    assert segments("a" * 159 + "ê") == Segments("UCS-2", 160, 3)


def test_arabic_and_chinese_are_ucs2() -> None:
    arabic = "مرحبا، نحن هنا لمساعدتك"
    assert segments(arabic) == Segments("UCS-2", len(arabic), 1)
    assert segments("你" * 70) == Segments("UCS-2", 70, 1)
    assert segments("你" * 71) == Segments("UCS-2", 71, 2)


def test_emoji_count_as_two_utf16_units() -> None:
    assert segments("😀") == Segments("UCS-2", 2, 1)
    assert segments("😀" * 35) == Segments("UCS-2", 70, 1)
    assert segments("😀" * 36) == Segments("UCS-2", 72, 2)
    assert segments("a" * 68 + "😀") == Segments("UCS-2", 70, 1)
    # Emoji above U+FFFF count 2; a BMP symbol such as ☎ counts 1.
    assert segments("☎").units == 1


def test_surrogate_pair_is_not_split_across_segments() -> None:
    # 134 units would be two segments of 67, but the emoji cannot straddle units 67 and 68.
    text = "ê" * 66 + "😀" + "ê" * 66
    assert segments(text) == Segments("UCS-2", 134, 3)
    assert segments("ê" * 65 + "😀" + "ê" * 67).count == 2


def test_fits() -> None:
    assert fits("a" * 459)
    assert not fits("a" * 460)
    assert fits("a" * 160, max_segments=1)
    assert not fits("a" * 161, max_segments=1)


# --- split ---


SENTENCES = (
    "You are not alone and it is not your fault. "
    "A counsellor at the helpline can talk with you today! "
    "Would you like the number? "
    "You can also write to them if talking feels hard. "
)


def test_text_that_fits_comes_back_unchanged() -> None:
    for text in ["", "Hi", "a" * 459, "ê" * 201, "  padded  ", SENTENCES]:
        assert split(text) == [text]
    assert split("a" * 160, max_segments=1) == ["a" * 160]


def test_split_cuts_at_sentence_ends() -> None:
    text = SENTENCES * 5
    assert not fits(text)
    parts = split(text)
    _check_split(text, parts)
    assert len(parts) == 2
    for part in parts:
        assert part.rstrip()[-1] in ".!?", part
        assert part[0].isupper(), part
    assert parts[-1] == text[len(parts[0]) + 1 :]  # the last part is the rest, as it was


def test_split_prefers_the_latest_sentence_end() -> None:
    text = "Short one. " + "word " * 80 + "End here. " + "more " * 30
    parts = split(text)
    _check_split(text, parts)
    assert parts == [text[: text.index(" more")], ("more " * 30).rstrip() + " "]


def test_split_cuts_at_newlines() -> None:
    lines = [f"Line {i} of the advice, with no full stop at the end" for i in range(30)]
    text = "\n".join(lines)
    parts = split(text)
    _check_split(text, parts)
    assert all(part.split("\n") and set(part.split("\n")) <= set(lines) for part in parts)


def test_split_keeps_numbered_menu_lines_whole() -> None:
    intro = "We are here for you. Here is what you can do next, whenever you feel ready. " * 3
    menu = "\n".join(
        f"{n}. Reply {n} to {what}. It is free and nobody else will see it."
        for n, what in enumerate(
            [
                "talk to a counsellor",
                "get the phone number",
                "chat online",
                "read about bullying",
                "read about staying safe online",
                "change language",
                "stop messages",
            ],
            start=1,
        )
    )
    text = intro.strip() + "\n" + menu
    parts = split(text)
    _check_split(text, parts)
    assert len(parts) >= 2
    menu_lines = menu.split("\n")
    for part in parts:
        for line in part.split("\n"):
            if line[:1].isdigit():
                assert line in menu_lines, f"menu line cut: {line!r}"


def test_menu_number_is_not_a_sentence_end() -> None:
    # One long menu line with no other boundary than spaces: never cut right after "1.".
    text = "1. " + "word " * 120
    parts = split(text)
    _check_split(text, parts)
    assert parts[0].startswith("1. word")


def test_split_without_spaces_hard_cuts() -> None:
    text = "a" * 1000
    assert split(text) == ["a" * 459, "a" * 459, "a" * 82]
    assert split(text, max_segments=1) == ["a" * 160] * 6 + ["a" * 40]


def test_split_without_spaces_keeps_extended_characters_whole() -> None:
    text = "€" * 500  # 1000 septets
    parts = split(text)
    _check_split(text, parts)
    assert "".join(parts) == text
    assert all(fits(part) for part in parts)


def test_split_falls_back_to_spaces() -> None:
    text = "word " * 200
    parts = split(text)
    _check_split(text, parts)
    assert all(part.rstrip().endswith("word") and part.startswith("word") for part in parts)
    # 92 words make 459 characters once the space at the cut is dropped: exactly 3 segments.
    assert parts == [("word " * 92).rstrip()] * 2 + ["word " * 16]


def test_split_emoji_never_cut_in_half() -> None:
    text = "😀" * 300
    parts = split(text)
    _check_split(text, parts)
    assert "".join(parts) == text
    assert all(set(part) == {"😀"} for part in parts)
    assert parts[0] == "😀" * 99  # 3 segments of 67 units hold 33 whole emoji each
    assert segments(parts[0]).count == 3


def test_split_keeps_zwj_emoji_together() -> None:
    family = "👨\u200d👩\u200d👧"  # 8 UTF-16 units
    text = "a" * 195 + family * 3
    parts = split(text)
    _check_split(text, parts)
    assert "".join(parts) == text
    assert not parts[0].endswith("\u200d")
    assert not parts[1].startswith("\u200d")


def test_split_ten_thousand_characters() -> None:
    rng = random.Random(116111)
    words = ["help", "you", "are", "safe", "talk", "friend", "school", "phone", "é", "€uro", "call"]
    chunks: list[str] = []
    while sum(map(len, chunks)) < 10_000:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(3, 25)))
        chunks.append(sentence.capitalize() + rng.choice([". ", "! ", "? ", ".\n"]))
    text = "".join(chunks)[:10_000]
    assert len(text) == 10_000
    parts = split(text)
    _check_split(text, parts)
    assert len(parts) >= 10_000 // 459
    # Nearly every cut is at a sentence end.
    assert sum(part.rstrip()[-1] in ".!?" for part in parts[:-1]) == len(parts) - 1


def test_split_ten_thousand_characters_ucs2() -> None:
    text = ("Нам можно написать в любое время. Ты не один! " * 250)[:10_000]
    parts = split(text)
    _check_split(text, parts)
    assert all(segments(part).encoding == "UCS-2" for part in parts)
    assert all(segments(part).units <= 201 for part in parts)


def test_split_arabic() -> None:
    sentence = "أنت لست وحدك، ويمكنك التحدث مع مستشار في خط مساعدة الأطفال اليوم. "
    text = sentence * 8
    parts = split(text)
    _check_split(text, parts)
    assert len(parts) >= 2
    assert all(part.rstrip().endswith(".") for part in parts)


def test_split_urdu_and_hindi_sentence_ends() -> None:
    urdu = "آپ اکیلے نہیں ہیں اور آپ کسی مشیر سے بات کر سکتے ہیں۔ " * 8
    parts = split(urdu)
    _check_split(urdu, parts)
    assert all(part.rstrip().endswith("۔") for part in parts)
    hindi = "आप अकेले नहीं हैं और आप किसी सलाहकार से बात कर सकते हैं। " * 8
    parts = split(hindi)
    _check_split(hindi, parts)
    assert all(part.rstrip().endswith("।") for part in parts)


def test_split_chinese_without_spaces() -> None:
    text = "你并不孤单，这不是你的错。今天你可以和儿童求助热线的辅导员谈谈！" * 12
    parts = split(text)
    _check_split(text, parts)
    assert "".join(parts) == text  # nothing lost: there is no whitespace to drop
    assert all(part[-1] in "。！" for part in parts)


def test_split_chinese_with_no_punctuation_hard_cuts() -> None:
    text = "你" * 500
    assert split(text) == ["你" * 201, "你" * 201, "你" * 98]


def test_split_mixed_gsm_then_non_gsm() -> None:
    # The parts are sent separately, so a part without the non-GSM character may be GSM-7.
    text = "Call us any time. " * 30 + "Tu n'es pas seul, ça arrive. "
    parts = split(text)
    _check_split(text, parts)


@pytest.mark.parametrize("max_segments", [1, 2, 3, 5])
def test_split_respects_max_segments(max_segments: int) -> None:
    text = SENTENCES * 10 + "😀 " + SENTENCES * 3
    parts = split(text, max_segments=max_segments)
    _check_split(text, parts, max_segments)


def test_split_rejects_zero_segments() -> None:
    with pytest.raises(ValueError):
        split("hello", max_segments=0)


def test_split_random_texts_round_trip() -> None:
    rng = random.Random(7)
    alphabet = "abc €{é ê. 😀\n你。ا!?"
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 1500)))
        max_segments = rng.randint(1, 4)
        parts = split(text, max_segments=max_segments)
        if parts == [text]:
            assert fits(text, max_segments)
            continue
        _check_split(text, parts, max_segments)
