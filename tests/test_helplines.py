"""The routing table refuses any number without a source, and says where the problem is."""

import textwrap

import pytest

from bot.helplines import RoutingTable
from bot.yamlfile import ConfigError

GOOD = """\
countries:
  KE:
    emergency:
      - number: "999"
        sources:
          - {url: "https://example.org/ke", read: 2026-11-29}
    helplines:
      - name: Childline Kenya
        phone: "116"
        free: true
        hours: 24/7
        sources:
          - {url: "https://example.org/childline", read: 2026-11-29}
"""


def load(tmp_path, text):
    path = tmp_path / "helplines.yml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return RoutingTable.load(path)


def test_a_good_table(tmp_path):
    table = load(tmp_path, GOOD)
    kenya = table.get("ke")
    assert [e.number for e in kenya.emergency] == ["999"]
    line = kenya.helplines[0]
    assert (line.name, line.phone, line.free, line.always_open) == ("Childline Kenya", "116", True, True)
    assert line.sources[0].url == "https://example.org/childline"
    assert table.get("ZZ") is None and "KE" in table


@pytest.mark.parametrize(
    "broken, line, field",
    [
        (GOOD.replace("  KE:", "  XX:"), 2, "countries.XX"),
        (GOOD.replace('"999"', "999"), 4, "countries.KE.emergency[0].number"),
        (GOOD.replace('"999"', '"call us"'), 4, "countries.KE.emergency[0].number"),
        (GOOD.replace('https://example.org/ke', 'example.org/ke'), 6, "countries.KE.emergency[0].sources[0].url"),
        (GOOD.replace("read: 2026-11-29}\n    helplines", "read: yesterday}\n    helplines"), 6, "countries.KE.emergency[0].sources[0].read"),
        (GOOD.replace("        sources:\n          - {url: \"https://example.org/childline\", read: 2026-11-29}\n", ""), 8, "countries.KE.helplines[0].sources"),
        (GOOD.replace("free: true", "free: maybe"), 10, "countries.KE.helplines[0].free"),
        (GOOD.replace("hours: 24/7", "hours: mornings"), 11, "countries.KE.helplines[0].hours"),
        (GOOD.replace('phone: "116"', "phone:"), 9, "countries.KE.helplines[0].phone"),
    ],
)
def test_broken_entries_are_refused_with_line_and_field(tmp_path, broken, line, field):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, broken)
    assert caught.value.line == line, str(caught.value)
    assert caught.value.field == field


def test_the_shipped_table_loads_and_every_number_has_a_source():
    table = RoutingTable.load()
    assert table.codes, "the routing table is empty"
    for code in table.codes:
        country = table.get(code)
        for line in country.helplines:
            assert line.sources
