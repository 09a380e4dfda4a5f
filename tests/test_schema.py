"""The data files' JSON Schemas (bot/datafiles/schemas): every shipped file passes, and every
defect is reported with the file, the line and the field, in words a helpline's staff understand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot import DATA_DIR, PROJECT_ROOT
from bot.datafiles import schema
from bot.datafiles.schema import FORMATS, load_validated
from bot.datafiles.training import RISK_LABELS
from bot.datafiles.yamlfile import ConfigError
from bot.handoff.outcomes import CHI_SPLIT
from bot.language.texts import MAX_TEXT_CHARS
from bot.routing.helplines import METHODS
from bot.storage.retention import PERIODS

# Which schema each data file is checked against. Rasa's own files (data/nlu, data/rules.yml) are
# checked by Rasa's schemas when it trains.
KINDS = {
    "helplines.yml": "helplines",
    "outcomes.yml": "outcomes",
    "stats_categories.yml": "stats_categories",
    "handoff.yml": "handoff",
    "privacy.yml": "privacy",
    "risk.yml": "risk",
    "languages.yml": "languages",
    "texts/*.yml": "texts",
    "texts/plain/*.yml": "texts",
    "texts/numbers/*.yml": "texts",
    "language_id/*.yml": "language_examples",
    "canned/*.yml": "canned",
    "crisis/*.yml": "crisis",
    "risk/*.yml": "risk_examples",
}
RASA_FILES = ("nlu/**/*.yml", "nlu/*.yml", "rules.yml")
SHIPPED = sorted((path, kind) for pattern, kind in KINDS.items() for path in DATA_DIR.glob(pattern))


def raw(kind: str) -> dict[str, Any]:
    return schema._schemas()[f"{kind}.yml"]


def test_every_data_file_the_bot_reads_has_a_schema():
    rasa = {path for pattern in RASA_FILES for path in DATA_DIR.glob(pattern)}
    assert {path for path, _ in SHIPPED} | rasa == set(DATA_DIR.rglob("*.yml"))
    assert set(KINDS.values()) == set(schema.schema_names())


@pytest.mark.parametrize("path, kind", SHIPPED, ids=[str(path.relative_to(DATA_DIR)) for path, _ in SHIPPED])
def test_every_shipped_data_file_validates(path: Path, kind: str):
    load_validated(path, kind)


def test_the_test_desks_file_validates():
    load_validated(PROJECT_ROOT / "tests" / "handoff_desks.yml", "handoff")


@pytest.mark.parametrize("name", sorted(schema._schemas()))
def test_each_schema_is_json_schema_2020_12(name: str):
    Draft202012Validator.check_schema(schema._schemas()[name])


def patterns_without_words(node: object, where: str) -> list[str]:
    """Schemas whose ``pattern`` would reach staff as a regular expression: they need an errorMessage."""
    found = []
    if isinstance(node, dict):
        wording = node.get("errorMessage")
        worded = isinstance(wording, str) or (isinstance(wording, dict) and "pattern" in wording)
        if "pattern" in node and not worded and where.split("/")[-1] != "not":
            found.append(where)
        for key, value in node.items():
            if key not in ("errorMessage", "enum", "const"):
                found += patterns_without_words(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += patterns_without_words(value, f"{where}/{i}")
    return found


def test_every_pattern_says_in_words_what_it_wants():
    assert [where for name, body in schema._schemas().items() for where in patterns_without_words(body, name)] == []


def test_the_schemas_agree_with_the_code():
    helpline = raw("helplines")["$defs"]["helpline"]
    assert tuple(helpline["properties"]["contacts"]["properties"]) == METHODS
    examples = raw("risk_examples")["properties"]
    assert tuple(examples["conversations"]["properties"]) == RISK_LABELS
    assert set(examples) == {"language", "conversations", *RISK_LABELS}
    assert raw("outcomes")["properties"]["outcomes"]["items"]["properties"]["chi"]["enum"] == [*CHI_SPLIT, None]
    assert set(raw("privacy")["properties"]["retention"]["properties"]) == set(PERIODS)
    assert raw("privacy")["properties"]["retention"]["required"] == list(PERIODS)
    assert raw("texts")["properties"]["texts"]["additionalProperties"]["maxLength"] == MAX_TEXT_CHARS
    assert raw("canned")["properties"]["replies"]["additionalProperties"]["maxLength"] == MAX_TEXT_CHARS


# -- each schema: a wrong type, a missing required field, an unknown field ------------------------

SOURCES = "sources:\n- url: https://childhelplineinternational.org/\n  read: 2026-01-01\n"  # lines 1-3
HELPLINES = """\
countries:
  KE:
    time_zone: Africa/Nairobi
    verified: 2026-11-29
    helplines:
      - name: Childline Kenya
        free: true
        contacts:
          phone: {number: '116'}
        sources:
          - {url: "https://example.org/childline", read: 2026-11-29, quote: "call 116"}
"""
RISK = (
    "crisis_threshold: 0.5\nunsure_threshold: 0.1\ncontext_turns: 3\nsure_intent_confidence: 0.6\n"
    "intent_agreement_threshold: 0.3\nlaughing_crisis_threshold: 0.85\n"
)
PRIVACY = (
    "retention:\n  conversation_days: 30\n  address_days: 7\n  dedupe_hours: 24\n  web_inbox_hours: 24\n"
    "  transcript_days: 90\n  statistics_days: 730\n"
)

# (kind, what is wrong, the file, its line, field, words of the message)
BROKEN = [
    ("helplines", "type", HELPLINES.replace("free: true", "free: maybe"), 7, "countries.KE.helplines[0].free", "true"),
    (
        "helplines",
        "missing",
        HELPLINES.replace("      - name: Childline Kenya\n        free", "      - free"),
        6,
        "countries.KE.helplines[0].name",
        "non-empty text",
    ),
    (
        "helplines",
        "unknown",
        HELPLINES.replace("        sources:", "        sorces:"),
        10,
        "countries.KE.helplines[0].sorces",
        "is not a field here (allowed: name, organisation",
    ),
    ("outcomes", "type", SOURCES + "outcomes:\n- {code: a, label: [A]}\n", 5, "outcomes[0].label", "non-empty text"),
    ("outcomes", "missing", SOURCES + "outcomes:\n- {code: a}\n", 5, "outcomes[0].label", "non-empty text"),
    (
        "outcomes",
        "unknown",
        SOURCES + "outcomes:\n- code: a\n  label: A\n  lable: B\n",
        7,
        "outcomes[0].lable",
        "is not a field here (allowed: code, label, chi)",
    ),
    (
        "stats_categories",
        "type",
        SOURCES + "categories:\n- {code: a, label: A, needs: greet}\n",
        5,
        "categories[0].needs",
        "non-empty list of needs",
    ),
    (
        "stats_categories",
        "missing",
        SOURCES + "categories:\n- {code: a, label: A}\n",
        5,
        "categories[0].needs",
        "non-empty list of needs",
    ),
    (
        "stats_categories",
        "unknown",
        SOURCES + "categories:\n- {code: a, label: A, needs: [greet], colour: red}\n",
        5,
        "categories[0].colour",
        "is not a field here",
    ),
    (
        "handoff",
        "type",
        "desks:\n  KE:\n    name: x\n    max_wait_minutes: soon\n",
        4,
        "desks.KE.max_wait_minutes",
        "whole number of minutes, 1 to 240",
    ),
    ("handoff", "missing", "desks:\n  KE:\n    max_wait_minutes: 5\n", 2, "desks.KE.name", "needs a name"),
    ("handoff", "unknown", "desks:\n  KE:\n    name: x\n    colour: red\n", 4, "desks.KE.colour", "is not a field"),
    (
        "privacy",
        "type",
        PRIVACY.replace("address_days: 7", "address_days: a week"),
        3,
        "retention.address_days",
        "must be a whole number from 1 to 90",
    ),
    (
        "privacy",
        "missing",
        PRIVACY.replace("  statistics_days: 730\n", ""),
        1,
        "retention.statistics_days",
        "is required (a whole number from 1 to 3650)",
    ),
    ("privacy", "unknown", PRIVACY + "  forever_days: 3\n", 8, "retention.forever_days", "is not a field here"),
    (
        "risk",
        "type",
        RISK.replace("context_turns: 3", "context_turns: three"),
        3,
        "context_turns",
        "whole number from 1 to 10",
    ),
    (
        "risk",
        "missing",
        RISK.replace("laughing_crisis_threshold: 0.85\n", ""),
        1,
        "laughing_crisis_threshold",
        "between 0 and 1",
    ),
    ("languages", "type", "languages:\n  en: {name: 5}\n", 2, "languages.en.name", "needs a text 'name'"),
    ("languages", "missing", "languages:\n  en: {babel: en}\n", 2, "languages.en.name", "needs a text 'name'"),
    ("canned", "type", "replies:\n  greeting: [Hi]\n", 2, "replies.greeting", "must be a non-empty text"),
    ("canned", "missing", "{}\n", 1, "replies", "must map reply names to texts"),
    ("canned", "unknown", 'replies:\n  greeting: "Hi"\ngreeting: "Hi"\n', 3, "greeting", "is not a field here"),
    ("crisis", "type", "self_harm: '\\bkms\\b'\n", 1, "self_harm", "must be a list of non-empty patterns"),
    # a misspelt list name would leave the language without that list
    ("crisis", "unknown", "self_harm: ['\\bkms\\b']\nself_ham: ['x']\n", 2, "self_ham", "is not a field here"),
    ("risk_examples", "type", "language: en\nnone: just one string\n", 2, "none", "must be a list of non-empty"),
    ("texts", "type", "review: {state: reviewed}\ntexts:\n  greet: [Hi]\n", 3, "texts.greet", "non-empty text"),
    ("texts", "missing", 'texts:\n  greet: "Ciao"\n', 1, "review", "is required"),
    (
        "texts",
        "unknown",
        'review: {state: reviewed}\ntexts: {greet: "Ciao"}\nnote: x\n',
        3,
        "note",
        "not a field",
    ),
    (
        "texts",
        "type",
        "review:\n  state: reviewed\n  texts:\n    greet: {state: checked}\ntexts: {greet: Hi}\n",
        4,
        "review.texts.greet.state",
        "must be 'machine draft' or 'reviewed'",
    ),
    ("language_examples", "type", "examples: ciao\n", 1, "examples", "a list of at least 10 messages"),
    ("language_examples", "missing", "{}\n", 1, "examples", "at least 10 messages"),
    ("language_examples", "unknown", "examples: [a, b, c, d, e, f, g, h, i, j]\nnote: x\n", 2, "note", "not a field"),
    (
        "risk_examples",
        "unknown",
        'language: xx\nself_harm:\n  - "ok"\nsadness:\n  - "meh"\n',
        4,
        "sadness",
        "is not a field here (allowed: language, self_harm",
    ),
]
# Kinds whose files have no required field (a language may have no crisis list), and kinds whose
# loaders never refused unknown fields (their schemas keep to that): unknown text keys are refused
# by the loader, against the reference language (tests/test_texts.py).
NOTHING_REQUIRED = {"crisis", "risk_examples"}
OPEN = {"risk", "languages"}


def refusal(folder: Path, kind: str, text: str) -> ConfigError:
    """The error a ``kind`` file holding ``text`` is refused with."""
    path = folder / f"{kind}.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_validated(path, kind)
    return caught.value


@pytest.mark.parametrize(
    "kind, wrong, text, line, field, words", BROKEN, ids=[f"{kind}-{wrong}" for kind, wrong, *_ in BROKEN]
)
def test_a_broken_file_names_file_line_and_field(tmp_path, kind, wrong, text, line, field, words):
    error = refusal(tmp_path, kind, text)
    path = tmp_path / f"{kind}.yml"
    assert (error.path, error.line, error.field) == (str(path), line, field), str(error)
    assert words in error.problem
    assert str(error) == f"{path}:{line}: {field}: {error.problem}"


def test_every_schema_has_its_broken_files():
    cases = {(kind, wrong) for kind, wrong, *_ in BROKEN}
    for kind in schema.schema_names():
        assert (kind, "type") in cases, kind
        assert ((kind, "missing") in cases) != (kind in NOTHING_REQUIRED), kind
        assert ((kind, "unknown") in cases) != (kind in OPEN), kind
        if kind in NOTHING_REQUIRED:
            assert "required" not in raw(kind), kind


@pytest.mark.parametrize(
    "kind, text",
    [
        ("risk", RISK + "note: tuned on the 2026 blind set\n"),
        ("languages", "languages:\n  en: {name: English, flag: gb}\nnote: x\n"),
    ],
)
def test_files_whose_loaders_took_other_fields_still_do(tmp_path, kind, text):
    path = tmp_path / f"{kind}.yml"
    path.write_text(text, encoding="utf-8")
    load_validated(path, kind)


# -- choosing and placing the error ------------------------------------------------------------------


def test_an_unknown_field_is_reported_before_the_missing_one_it_misspells(tmp_path):
    error = refusal(tmp_path, "outcomes", SOURCES + "outcomes:\n- code: a\n  lable: A\n")
    assert (error.line, error.field) == (6, "outcomes[0].lable")


def test_of_several_defects_the_highest_in_the_file_then_the_first_line_is_reported(tmp_path):
    error = refusal(
        tmp_path, "handoff", "desks:\n  KE:\n    name: x\n    colour: red\n  UG:\n    name: y\n    size: 3\n"
    )
    assert (error.line, error.field) == (4, "desks.KE.colour")
    error = refusal(tmp_path, "handoff", "desks:\n  KE:\n    name: x\n    colour: red\n  Uganda:\n    name: y\n")
    assert (error.line, error.field) == (5, "desks.Uganda")  # a wrong country before a wrong field


def test_a_value_in_a_list_of_texts_is_placed_at_the_lists_key(tmp_path):
    error = refusal(tmp_path, "crisis", "danger_now:\n  - 'a'\nself_harm:\n  - 'b'\n  - ''\n")
    assert (error.line, error.field) == (3, "self_harm[1]")


def test_a_key_yaml_reads_as_false_is_named_with_the_fix(tmp_path):
    error = refusal(tmp_path, "handoff", "desks:\n  KE: {name: x}\n  NO: {name: y}\n")
    assert (error.line, error.field) == (3, "desks.False")
    assert "in quotes, such as 'NO'" in error.problem


def test_a_whole_number_is_written_as_one(tmp_path):
    error = refusal(tmp_path, "privacy", PRIVACY.replace("conversation_days: 30", "conversation_days: 30.0"))
    assert (error.line, error.field) == (2, "retention.conversation_days")


def test_desk_hours_need_their_time_zone_and_the_error_points_at_the_hours(tmp_path):
    error = refusal(tmp_path, "handoff", "desks:\n  KE:\n    name: x\n    hours: 24/7\n")
    assert (error.line, error.field) == (4, "desks.KE.time_zone")
    assert "IANA time zone" in error.problem


def test_an_entry_needs_a_helpline_or_an_emergency_number(tmp_path):
    error = refusal(tmp_path, "helplines", HELPLINES.split("    helplines:")[0] + "    helplines: []\n")
    assert (error.line, error.field) == (2, "countries.KE.emergency")
    assert error.problem == "needs an emergency number or a helpline"


# -- the formats ------------------------------------------------------------------------------------

TODAY = dt.date.today()


@pytest.mark.parametrize(
    "name, good, bad, words",
    [
        (
            "date",
            [dt.date(2026, 11, 29)],
            ["2026-11-29", dt.datetime(2026, 11, 29, 10, 0), None, 20261129],
            "YYYY-MM-DD",
        ),
        ("past-date", [TODAY, dt.date(2020, 1, 1)], [TODAY + dt.timedelta(days=1)], "in the future"),
        ("past-date", [], ["yesterday"], "YYYY-MM-DD"),
        ("country-code", ["KE", "GB", "NO"], ["XX", "ke", "GBR", "UK", 5], "ISO 3166-1 alpha-2"),
        ("country-code", [], [False, True], "in quotes"),
        ("time-zone", ["Africa/Nairobi", "UTC", 5], ["Africa/Narnia", "Africa", "", "../etc", "Nairobi"], "IANA"),
        (
            "web-address",
            ["https://example.org/x", "http://www.childhelpline.org/en"],
            ["example.org", "https://a b", "ftp://x"],
            "http(s) address",
        ),
        (
            "https-address",
            ["https://example.org/in", "http://127.0.0.1:8080/in", "http://localhost/in"],
            ["http://example.org/in", "ftp://example.org", "example.org"],
            "https://",
        ),
        ("locale", ["en", "zh_Hant", "pt_PT"], ["xx", "5", "english"], "not a locale Babel knows"),
        ("text-template", ["Hi {name}", "no placeholder", "{{literal}}"], ["Hi {", "Hi }", "{0"], "broken placeholder"),
    ],
)
def test_each_format_refuses_a_bad_value(name, good, bad, words):
    check = FORMATS[name]
    assert [value for value in good if check(value) is not None] == []
    for value in bad:
        problem = check(value)
        assert problem is not None and words in problem, (value, problem)


def test_formats_are_checked_when_validating(tmp_path):
    error = refusal(
        tmp_path,
        "handoff",
        "desks:\n  KE:\n    name: x\n    webhook: {url: 'http://example.org/in', secret_variable: S}\n",
    )
    assert (error.line, error.field) == (4, "desks.KE.webhook.url")
    assert "https://" in error.problem


def test_a_kind_without_a_schema_is_a_programming_error(tmp_path):
    path = tmp_path / "x.yml"
    path.write_text("a: 1\n", encoding="utf-8")
    with pytest.raises(KeyError):
        load_validated(path, "no_such_kind")
