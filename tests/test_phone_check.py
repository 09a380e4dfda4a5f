"""phonenumbers' verdicts are remembered between runs, and a broken cache only costs time."""

import json

from bot.routing.phone_check import PhoneCheck


def test_verdicts_are_stored_and_reused(tmp_path):
    path = tmp_path / "cache.json"
    first = PhoneCheck(path)
    kenya = first.verdict("0722 116116", "KE")
    assert kenya.full and kenya.e164 == "+254722116116" and kenya.national == "722116116"
    assert first.verdict("116 111", "DE").short
    assert not first.verdict("call me", "DE").parses
    first.save()
    stored = json.loads(path.read_text())
    assert "KE|0722 116116" in stored["verdicts"]
    stored["verdicts"]["KE|0722 116116"]["e164"] = "+254000"  # proves the second run reads the file
    path.write_text(json.dumps(stored))
    assert PhoneCheck(path).verdict("0722 116116", "KE").e164 == "+254000"


def test_a_cache_of_another_version_or_broken_is_ignored(tmp_path):
    path = tmp_path / "cache.json"
    path.write_text(json.dumps({"version": "0.0", "verdicts": {"KE|116": {"parses": False}}}))
    assert PhoneCheck(path).verdict("116", "KE").parses
    path.write_text("{not json")
    assert PhoneCheck(path).verdict("116", "KE").parses
    unwritable = tmp_path / "file"
    unwritable.write_text("")
    check = PhoneCheck(unwritable / "cache.json")  # its folder is a file: saving fails quietly
    check.verdict("112", "FR")
    check.save()
