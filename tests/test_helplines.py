"""The routing table refuses any broken entry, and says where: file, line and field."""

import datetime as dt
import json
import textwrap

import pytest

from bot.datafiles.yamlfile import ConfigError
from bot.routing.cli import continent, main
from bot.routing.helplines import RoutingTable, digits

GOOD = """\
countries:
  KE:
    time_zone: Africa/Nairobi
    verified: 2026-11-29
    emergency:
      - number: '999'
        what: police, ambulance, fire
        sources:
          - {url: "https://example.org/ke", read: 2026-11-29, quote: "dial 999 or 112"}
    helplines:
      - name: Childline Kenya
        free: true
        languages: [en, sw]
        ages: '0-17'
        contacts:
          phone: {number: '116', hours: 24/7}
          whatsapp: {number: '+254 722 116 116', hours: {mon-fri: '08:00-17:00'}}
          chat: {url: "https://example.org/chat", hours: {daily: '18:00-02:00'}}
        sources:
          - {url: "https://example.org/childline", read: 2026-11-29, quote: "call 116 free, or WhatsApp 0722 116116"}
    hotline:
      name: Example hotline
      report_url: https://example.org/report
      inhope_member: true
      sources:
        - {url: "https://example.org/inhope", read: 2026-11-29}
"""


def load(tmp_path, text):
    path = tmp_path / "helplines.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return RoutingTable.load(path)


def test_a_good_table(tmp_path):
    table = load(tmp_path, GOOD)
    kenya = table.get("ke")
    assert [(e.number.dial, e.number.e164) for e in kenya.emergency] == [("999", None)]
    line = kenya.helplines[0]
    assert (line.name, line.free, line.languages, line.ages) == ("Childline Kenya", True, ("en", "sw"), "0-17")
    assert line.contact("phone").number.dial == "116" and line.contact("phone").hours.always
    assert line.contact("whatsapp").number.e164 == "+254722116116"
    assert line.contact("chat").address == "https://example.org/chat"
    assert kenya.hotline.report_url == "https://example.org/report" and kenya.hotline.inhope_member
    assert kenya.time_zone.key == "Africa/Nairobi" and kenya.verified == dt.date(2026, 11, 29)
    assert table.get("ZZ") is None and "KE" in table and len(table) == 1


@pytest.mark.parametrize(
    "old, new, line, field",
    [
        ("  KE:", "  XX:", 2, "countries.XX"),
        ("Africa/Nairobi", "Africa/Atlantis", 3, "countries.KE.time_zone"),
        ("    verified: 2026-11-29\n", "", 2, "countries.KE.verified"),  # missing: the line of the entry's key
        ("number: '999'", "number: 999", 6, "countries.KE.emergency[0].number"),
        ("number: '999'", "number: 'call us'", 6, "countries.KE.emergency[0].number"),
        ("number: '999'", "number: '12'", 6, "countries.KE.emergency[0].number"),  # not valid in KE
        ("number: '999'", "number: '0800 720 600'", 6, "countries.KE.emergency[0].number"),  # not in the quote
        ('"https://example.org/ke"', '"example.org/ke"', 9, "countries.KE.emergency[0].sources[0].url"),
        (
            'read: 2026-11-29, quote: "dial',
            'read: yesterday, quote: "dial',
            9,
            "countries.KE.emergency[0].sources[0].read",
        ),
        (
            'read: 2026-11-29, quote: "dial',
            'read: 2999-01-01, quote: "dial',
            9,
            "countries.KE.emergency[0].sources[0].read",
        ),
        ("free: true", "free: maybe", 12, "countries.KE.helplines[0].free"),
        ("ages: '0-17'", "ages: teens", 14, "countries.KE.helplines[0].ages"),
        (
            "phone: {number: '116', hours: 24/7}",
            "phone: {number: '116', hours: mornings}",
            16,
            "countries.KE.helplines[0].contacts.phone.hours",
        ),
        ("mon-fri: '08:00-17:00'", "mon-fry: '08:00-17:00'", 17, "countries.KE.helplines[0].contacts.whatsapp.hours"),
        ("mon-fri: '08:00-17:00'", "mon-fri: '08:00-25:00'", 17, "countries.KE.helplines[0].contacts.whatsapp.hours"),
        ("mon-fri: '08:00-17:00'", "mon-fri: 08:00", 17, "countries.KE.helplines[0].contacts.whatsapp.hours"),
        (
            "'+254 722 116 116'",
            "'116'",
            17,
            "countries.KE.helplines[0].contacts.whatsapp.number",
        ),  # WhatsApp needs a full number
        ("chat: {url:", "chatroom: {url:", 18, "countries.KE.helplines[0].contacts.chatroom"),
        (
            '        sources:\n          - {url: "https://example.org/childline"',
            '        sorces:\n          - {url: "https://example.org/childline"',
            19,
            "countries.KE.helplines[0].sorces",
        ),
        ("report_url: https://example.org/report", "report_url: none", 23, "countries.KE.hotline.report_url"),
        (
            "      - name: Childline Kenya\n        free: true",
            "      - free: true",
            11,
            "countries.KE.helplines[0].name",
        ),
    ],
)
def test_broken_entries_are_refused_with_line_and_field(tmp_path, old, new, line, field):
    assert old in GOOD
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, GOOD.replace(old, new, 1))
    assert (caught.value.line, caught.value.field) == (line, field), str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path / 'helplines.yml'}:{line}: {field}: ")


def test_a_short_code_phonenumbers_does_not_know_must_say_so(tmp_path):
    table = GOOD.replace("number: '116', hours", "number: '1234', hours").replace("call 116 free", "call 1234 free")
    with pytest.raises(ConfigError, match="unlisted_short_code") as caught:
        load(tmp_path, table)
    assert caught.value.line == 16
    flagged = table.replace("number: '1234', hours: 24/7}", "number: '1234', hours: 24/7, unlisted_short_code: true}")
    contact = load(tmp_path, flagged).get("KE").helplines[0].contact("phone")
    assert contact.number.dial == "1234" and not contact.number.listed
    # The flag on a number phonenumbers does know is itself an error: it would hide a real check.
    with pytest.raises(ConfigError, match="remove this flag"):
        load(tmp_path, GOOD.replace("hours: 24/7}", "hours: 24/7, unlisted_short_code: true}"))


def test_malformed_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, GOOD.replace("    helplines:", "    helplines: [unclosed"))
    assert "not valid YAML" in str(caught.value) and caught.value.line


SHIPPED = RoutingTable.load()


def test_the_shipped_table_covers_a_hundred_countries_on_every_continent():
    continents = {continent(SHIPPED.get(code)) for code in SHIPPED.codes}
    assert len(SHIPPED) >= 100
    assert continents == {"Africa", "Americas", "Asia", "Europe", "Oceania"}


@pytest.mark.parametrize(
    "code, number", [("GB", "0800 1111"), ("KE", "116"), ("DE", "116 111"), ("IN", "1098"), ("BR", "100")]
)
def test_well_known_child_helplines_are_in_the_table(code, number):
    numbers = [c.number.dial for line in SHIPPED.get(code).helplines for c in line.contacts if c.number]
    assert number in numbers


def test_eu_countries_route_to_116_111_where_sources_say_so():
    for code in ("DE", "PL", "CZ", "SK", "HU", "SI", "HR", "RO", "BG", "EE", "LV", "LT", "PT", "DK", "SE", "NO"):
        numbers = [digits(c.number.dial) for line in SHIPPED.get(code).helplines for c in line.contacts if c.number]
        assert "116111" in numbers, code


def test_cli_validate_and_lookup(tmp_path, capsys):
    path = tmp_path / "helplines.yml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["--file", str(path), "validate"]) == 0
    assert main(["--file", str(path), "lookup", "KE", "--json"]) == 0
    found = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert found["helplines"][0]["contacts"][1] == {
        "method": "whatsapp",
        "number": "+254 722 116 116",
        "e164": "+254722116116",
        "hours": "mon 08:00-17:00, tue 08:00-17:00, wed 08:00-17:00, thu 08:00-17:00, fri 08:00-17:00",
    }
    assert main(["--file", str(path), "lookup", "FR"]) == 2  # not in this table: says so, exit 2
    path.write_text(GOOD.replace("Africa/Nairobi", "Nairobi"), encoding="utf-8")
    assert main(["--file", str(path), "validate"]) == 1
    assert f"{path}:3: countries.KE.time_zone:" in capsys.readouterr().err


def test_cli_open_now_and_stats(tmp_path, capsys):
    path = tmp_path / "helplines.yml"
    path.write_text(GOOD, encoding="utf-8")
    assert main(["--file", str(path), "open-now", "KE", "--at", "2026-11-30T01:30+03:00"]) == 0  # Monday 01:30
    out = capsys.readouterr().out
    assert "phone: open (24/7)" in out
    assert "whatsapp: closed, opens Mon 08:00" in out
    assert "chat: open until Mon 02:00" in out  # Sunday's 18:00-02:00 is still running
    assert main(["--file", str(path), "stats"]) == 0
    out = capsys.readouterr().out
    assert "countries: 1 (1 with a child helpline, 1 with a reporting hotline)" in out and "Africa: 1" in out
