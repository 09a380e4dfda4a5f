"""Checking a data file's shape against its JSON Schema, with errors a helpline's staff can act on.

Each kind of data file has a schema in ``bot/datafiles/schemas/<kind>.yml`` (JSON Schema 2020-12,
written as YAML) saying which fields it has, which are required, and what each may hold. A loader
calls :func:`load_validated` and then only builds its objects; checks that need several values at
once (a code used twice, the same keys in every language, a phone number against its country
and its sources) stay in the loader, after this one, and raise the same :class:`ConfigError`.

Of all that is wrong with a file, the most relevant error is reported (the one highest in the
file's tree; an unknown field before the missing one it probably misspells; then the earliest
line), as ``file:line: field: message``: ``field`` is the dotted path (``countries.KE.helplines[0]
.sources[0].read``) and ``line`` the line of the offending key or list item (for a value inside a
list of texts, the line of the list's key; for a missing field, the line of the key whose mapping
lacks it).

Messages: a schema may say what to write with ``errorMessage`` (our own keyword, ignored by other
JSON Schema tools), either one text for every error of that schema's own keywords, or a mapping
from keyword (``type``, ``pattern``...) to text. ``required`` in it is what to say when the field
that schema describes is missing (beside a ``$ref``, that is all it can say: the schema referred
to words its own errors). A message may use ``{value}``, ``{value!r}``, ``{limit}`` (the keyword's
value) and ``{allowed}`` (the fields allowed here). Without one, a table below words each keyword.

YAML has what JSON lacks, so the schemas use these formats, checked here (see :data:`FORMATS`):
``date`` and ``past-date`` (an unquoted YAML date), ``country-code``, ``time-zone``,
``web-address``, ``https-address``, ``locale`` and ``text-template``.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pycountry
import yaml
from babel import Locale, UnknownLocaleError
from jsonschema import Draft202012Validator, FormatChecker, ValidationError
from jsonschema.exceptions import WEAK_MATCHES, best_match, relevance
from jsonschema.validators import extend

from bot.datafiles.yamlfile import ConfigError, LineDict, YamlFile, load_mapping

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's when present: 10x faster


# -- formats: what JSON Schema cannot say by itself ------------------------------------------------
# Each returns None when the value is fine, else what is wrong with it (the error's message, unless
# the schema has its own errorMessage).


def _date(value: object) -> Optional[str]:
    """A YAML date (2026-11-29, unquoted), not a date and time."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return None
    return "must be a date as YYYY-MM-DD (without quotes)"


def _past_date(value: object) -> Optional[str]:
    """A date that is today or earlier: the day someone read a page."""
    problem = _date(value)
    if problem is None and isinstance(value, dt.date) and value > dt.date.today():
        return f"{value} is in the future (write the day you read it, as YYYY-MM-DD)"
    return problem


def _country_code(value: object) -> Optional[str]:
    """An upper-case ISO 3166-1 alpha-2 code. Used on mapping keys too, so a key YAML read as
    true/false ('NO', 'YES'... unquoted) fails here with a hint."""
    if isinstance(value, bool):
        return f"was read as {str(value).lower()}: write the country code in quotes, such as 'NO'"
    if isinstance(value, str) and len(value) == 2 and value.isupper() and pycountry.countries.get(alpha_2=value):
        return None
    return f"{value!r} is not an upper-case ISO 3166-1 alpha-2 country code, such as KE (quote NO as 'NO')"


def _time_zone(value: object) -> Optional[str]:
    return _zone_problem(value) if isinstance(value, str) else None  # else the schema's type says it


@lru_cache(maxsize=1024)  # ZoneInfo keeps few zones; the routing table names a hundred, many times
def _zone_problem(value: str) -> Optional[str]:
    try:
        ZoneInfo(value)
        return None
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder of zones, such as 'Africa'
        return f"{value!r} is not an IANA time zone such as Africa/Nairobi"


def _web_address(value: object) -> Optional[str]:
    if not isinstance(value, str) or (value.startswith(("https://", "http://")) and " " not in value):
        return None
    return "must be an http(s) address, such as https://example.org/page"


def _https_address(value: object) -> Optional[str]:
    """https://, or http:// to this machine (tests and local set-ups)."""
    if not isinstance(value, str):
        return None
    address = urlsplit(value)
    local = address.hostname in ("127.0.0.1", "localhost", "::1")
    if address.scheme == "https" or (address.scheme == "http" and local):
        return None
    return "must be an https:// address (http only to this machine, for tests)"


def _locale(value: object) -> Optional[str]:
    if not isinstance(value, str):
        return None
    try:
        Locale.parse(value)
        return None
    except (ValueError, TypeError, UnknownLocaleError) as exc:
        return f"{value!r} is not a locale Babel knows, such as en or zh_Hant ({exc})"


def _text_template(value: object) -> Optional[str]:
    """A text whose {placeholders} are well formed (it is filled in with str.format)."""
    if not isinstance(value, str):
        return None
    try:
        list(string.Formatter().parse(value))
        return None
    except ValueError as exc:
        return f"has a broken placeholder ({exc})"


FORMATS: dict[str, Callable[[object], Optional[str]]] = {
    "date": _date,
    "past-date": _past_date,
    "country-code": _country_code,
    "time-zone": _time_zone,
    "web-address": _web_address,
    "https-address": _https_address,
    "locale": _locale,
    "text-template": _text_template,
}


class FormatProblem(ValueError):
    """A value that does not have its format; the message says why."""


def _format_checker() -> FormatChecker:
    checker = FormatChecker(formats=())
    for name, check in FORMATS.items():

        def raise_problem(value: object, check: Callable[[object], Optional[str]] = check) -> bool:
            problem = check(value)
            if problem is not None:
                raise FormatProblem(problem)
            return True

        checker.checks(name, raises=FormatProblem)(raise_problem)
    return checker


# YAML tells 30 from 30.0: a whole number must be written as one (JSON Schema's integer also takes 30.0).
_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)
)
_Validator = extend(Draft202012Validator, type_checker=_TYPES)
_FORMAT_CHECKER = _format_checker()


# -- loading the schemas -----------------------------------------------------------------------------


@lru_cache(maxsize=None)
def _schemas() -> dict[str, dict[str, Any]]:
    """Every schema by its file name (``helplines.yml``), as written."""
    return {path.name: yaml.load(path.read_bytes(), Loader=_SafeLoader) for path in sorted(SCHEMA_DIR.glob("*.yml"))}


def schema_names() -> list[str]:
    """The kinds of file there is a schema for (``helplines``, ``texts``...)."""
    return [name.removesuffix(".yml") for name in _schemas() if name != "common.yml"]


@lru_cache(maxsize=None)
def validator(kind: str) -> Any:
    """The validator of one kind of file (KeyError for a kind without a schema)."""
    schema = _inlined(_schemas()[f"{kind}.yml"], f"{kind}.yml", 0)
    return _Validator(schema, format_checker=_FORMAT_CHECKER)


def _inlined(node: Any, where: str, depth: int) -> Any:
    """The schema with every ``$ref`` (``#/$defs/x`` or ``common.yml#/$defs/x``) replaced by what it
    names: a third faster on the routing table than resolving them while validating. A ``$ref``
    with other keywords beside it becomes ``allOf: [<what it names>]`` beside them."""
    if depth > 20:
        raise ValueError(f"{where}: $ref nested too deep (a loop?)")
    if isinstance(node, list):
        return [_inlined(item, where, depth) for item in node]
    if not isinstance(node, dict):
        return node
    found = {
        key: value if key in ("enum", "const", "errorMessage") else _inlined(value, where, depth)
        for key, value in node.items()
        if key not in ("$ref", "$defs")
    }
    if "$ref" not in node:
        return found
    document, _, pointer = str(node["$ref"]).partition("#")
    document = document or where
    target: Any = _schemas()[document]
    for part in filter(None, pointer.split("/")):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    target = _inlined(target, document, depth + 1)
    if set(found) <= {"description", "title"}:
        return target
    return {"allOf": [target], **found}


# -- validating ----------------------------------------------------------------------------------


def load_validated(path: Path | str, kind: str) -> YamlFile:
    """Load a YAML file (:func:`load_mapping`) and check it against the schema of ``kind``."""
    source = load_mapping(path)
    validate(source, kind)
    return source


def validate(source: YamlFile, kind: str) -> None:
    """Raise ConfigError (file, line, field, message) for the most relevant error, if there is one."""
    check = validator(kind)
    errors = list(check.iter_errors(source.data))
    if not errors:
        return
    places = {id(error): _place(source.data, error) for error in errors}

    def rank(error: ValidationError) -> tuple[Any, ...]:
        # Highest in the tree first (as jsonschema's relevance); there, an unknown field before a
        # missing one (often its misspelling); then jsonschema's relevance; then the earliest line.
        line, _ = places.get(id(error)) or _place(source.data, error)
        keyword = _keyword(error)
        unknown = keyword == "additionalProperties"
        return (-len(error.path), keyword not in WEAK_MATCHES, unknown, relevance(error), -(line or 0))

    error = best_match(errors, key=rank)
    line, field = places.get(id(error)) or _place(source.data, error)
    raise ConfigError(source.path, line, field, _message(error))


def _place(data: LineDict, error: ValidationError) -> tuple[Optional[int], str]:
    """The line and the dotted field an error is about."""
    node: Any = data
    line: Optional[int] = data.start_line
    field = ""
    for step in error.absolute_path:
        if isinstance(node, dict):
            key = _original_key(node, step)
            line = node.line_of(key) if isinstance(node, LineDict) else line
            field = f"{field}.{key}" if field else str(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(step, int):
            field = f"{field}[{step}]"
            node = node[step]
            if isinstance(node, LineDict):
                line = node.start_line
        else:  # cannot happen for a path jsonschema found; keep what is known
            break
    if not isinstance(node, dict):
        return line, field
    # Errors about a mapping are placed at the key they concern.
    keyword = _keyword(error)
    if keyword == "required":
        missing = _missing(error, node)
        return line, f"{field}.{missing}" if field else str(missing)
    if keyword == "dependentRequired":
        because, missing = _dependency(error, node)
        line = node.line_of(because) if isinstance(node, LineDict) else line
        return line, f"{field}.{missing}" if field else str(missing)
    concerned: Any = None
    if keyword == "additionalProperties" and error.validator_value is False:
        allowed = error.schema.get("properties", {})
        concerned = next((name for name in node if name not in allowed), None)
    elif "propertyNames" in error.absolute_schema_path:
        concerned = _original_key(node, error.instance)
    if concerned is not None:
        line = node.line_of(concerned) if isinstance(node, LineDict) else line
        field = f"{field}.{concerned}" if field else str(concerned)
    return line, field


def _keyword(error: ValidationError) -> str:
    """The keyword that failed (``type``, ``required``...): jsonschema calls it the error's validator."""
    return str(error.validator)


def _original_key(mapping: Mapping[Any, Any], step: object) -> Any:
    """The key of ``mapping`` a path step names (YAML keys need not be texts)."""
    if step in mapping:
        return step
    return next((key for key in mapping if str(key) == str(step)), step)


def _missing(error: ValidationError, instance: Mapping[Any, Any]) -> str:
    """The required field an error is about (jsonschema gives one error per missing field)."""
    missing = [name for name in error.validator_value if name not in instance]
    return next((name for name in missing if repr(name) in error.message), missing[0] if missing else "")


def _dependency(error: ValidationError, instance: Mapping[Any, Any]) -> tuple[str, str]:
    """(the field that is there, the field it needs) of a dependentRequired error."""
    pairs = [
        (present, needed)
        for present, needs in error.validator_value.items()
        if present in instance
        for needed in needs
        if needed not in instance
    ]
    for present, needed in pairs:
        if repr(present) in error.message and repr(needed) in error.message:
            return present, needed
    return pairs[0] if pairs else ("", "")


# -- messages --------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping (key: value)",
    "null": "left empty",
}


def _message(error: ValidationError) -> str:
    own = _own_message(error.schema, _keyword(error))
    if _keyword(error) == "required":  # what the missing field's schema says when it is missing
        wanted = _properties(error.schema).get(_missing(error, error.instance))
        own = _missing_message(wanted)
        if not own and isinstance(wanted, dict) and "type" in wanted:
            own = f"is required ({_described(wanted)})"
    return _fill(own or _default_message(error), error)


def _properties(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a schema names, with those of the schemas it includes (``allOf``)."""
    found: dict[str, Any] = {}
    for part in schema.get("allOf", []):
        if isinstance(part, dict):
            found.update(_properties(part))
    return {**found, **schema.get("properties", {})}


def _own_message(schema: object, keyword: str) -> Optional[str]:
    """The schema's errorMessage for ``keyword``: one text for all, or a text per keyword."""
    wording = schema.get("errorMessage") if isinstance(schema, dict) else None
    if isinstance(wording, dict):
        wording = wording.get(keyword)
    return wording if isinstance(wording, str) else None


def _missing_message(schema: object) -> Optional[str]:
    """What a field's schema (or one it includes) says when the field is missing."""
    if not isinstance(schema, dict):
        return None
    own = _own_message(schema, "required")
    parts = schema.get("allOf", [])
    return own or next(filter(None, (_missing_message(part) for part in parts)), None)


def _fill(text: str, error: ValidationError) -> str:
    allowed = ", ".join(str(name) for name in _properties(error.schema))
    for token, value in (
        ("{value!r}", repr(error.instance)),
        ("{value}", str(error.instance)),
        ("{limit}", str(error.validator_value)),
        ("{allowed}", allowed),
    ):
        text = text.replace(token, value)
    return text


def _default_message(error: ValidationError) -> str:
    keyword, limit, schema, instance = _keyword(error), error.validator_value, error.schema, error.instance
    if keyword == "type":
        return "must be " + _described(schema)
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return "must be " + _described(schema)
    if keyword == "required":
        return "is required"
    if keyword == "dependentRequired":
        because, _ = _dependency(error, instance)
        return f"is required when {because} is given"
    if keyword == "additionalProperties":
        return "is not a field here (allowed: {allowed})"
    if keyword == "propertyNames":
        return "is not a name allowed here"
    if keyword == "enum":
        shown = ", ".join(str(option) for option in limit if option is not None)
        return f"must be one of: {shown}" + (" (or left out)" if None in limit else "")
    if keyword == "const":
        return f"must be {limit!r}"
    if keyword == "format":
        return str(error.cause) if error.cause else f"is not a valid {limit}"
    if keyword == "minLength":
        return "must not be empty" if limit == 1 else f"must be at least {limit} characters"
    if keyword == "maxLength":
        return f"is {len(instance)} characters; the limit is {limit}"
    if keyword in ("minItems", "minProperties"):
        return "must not be empty" if limit == 1 else f"must have at least {limit} entries"
    if keyword in ("maxItems", "maxProperties"):
        return f"must have at most {limit} entries"
    if keyword == "uniqueItems":
        return "lists the same thing twice"
    return f"is not valid here ({error.message})"  # a keyword our schemas do not use yet


def _described(schema: Mapping[str, Any]) -> str:
    """What a value must be, from its schema's type and bounds: "a whole number from 1 to 240"."""
    types = schema.get("type", [])
    names = [_TYPE_NAMES.get(name, name) for name in ([types] if isinstance(types, str) else types)]
    what = " or ".join(names) or "a value"
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if low is not None and high is not None:
        return f"{what} from {low} to {high}"
    if above is not None and below is not None:
        return f"{what} between {above} and {below}"
    bounds = [
        f"at least {low}" if low is not None else "",
        f"at most {high}" if high is not None else "",
        f"more than {above}" if above is not None else "",
        f"less than {below}" if below is not None else "",
    ]
    shown = " and ".join(bound for bound in bounds if bound)
    return f"{what}, {shown}" if shown else what
