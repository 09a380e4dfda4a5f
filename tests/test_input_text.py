"""Cleaning children's raw messages: nothing they send may crash the bot or reach Rasa's shortcuts."""

import pytest

from bot.language.input_text import MAX_CHARS, clean, has_words


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("", ""),
        ("   \n\t ", ""),
        (None, ""),
        (b"help", ""),
        (42, ""),
        ("/restart", "restart"),
        ("//self_harm", "self_harm"),
        ("\\/start", "start"),
        ("  hi\x00\x07 there\u202e ", "hi there"),
        ("line one\nline two", "line one line two"),
        ("cafe\u0301", "café"),
        ("नमस्ते", "नमस्ते"),
        ("👩\u200d👧 help", "👩\u200d👧 help"),
    ],
)
def test_clean(raw, expected):
    assert clean(raw) == expected


def test_long_messages_keep_their_start_and_end():
    text = "start " + "blah " * 3000 + "i want to die"
    cleaned = clean(text)
    assert len(cleaned) <= MAX_CHARS
    assert cleaned.startswith("start")
    assert cleaned.endswith("i want to die")


def test_a_slash_inside_a_message_stays():
    assert clean("me/you 1/2") == "me/you 1/2"


@pytest.mark.parametrize("text, expected", [("😭😭", False), ("?!", False), ("ok", True), ("2", True), ("救命", True)])
def test_has_words(text, expected):
    assert has_words(text) is expected
