"""The rest channel's body parsing: a clear error for anything malformed, never a crash."""

import json

import pytest

from channels.rest import MAX_BODY_BYTES, BadRequest, parse_body


def body(**fields) -> bytes:
    return json.dumps(fields).encode()


def test_a_good_body():
    sender, text, metadata = parse_body(body(sender="abc", message="/restart now", metadata={"country": "KE"}))
    assert (sender, text, metadata) == ("abc", "restart now", {"country": "KE"})


def test_a_missing_message_is_an_empty_message():
    assert parse_body(body(sender="abc"))[1] == ""


@pytest.mark.parametrize(
    "raw, words",
    [
        (b"", "JSON"),
        (b"\xff\xfe\x00garbage", "UTF-8 JSON"),
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
        (body(message="hi"), "sender"),
        (body(sender="", message="hi"), "sender"),
        (body(sender="x" * 500, message="hi"), "sender"),
        (body(sender="a", message=5), "message"),
        (body(sender="a", message="hi", metadata="KE"), "metadata"),
        (body(sender="a", message="hi", metadata={"country": "Narnia"}), "metadata.country"),
        (body(sender="a", message="hi", metadata={"phone": "12"}), "metadata.phone"),
        (body(sender="a", message="hi", metadata={"language": 7}), "metadata.language"),
        (b" " * (MAX_BODY_BYTES + 1), "larger"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(raw, words):
    with pytest.raises(BadRequest, match=words):
        parse_body(raw)
