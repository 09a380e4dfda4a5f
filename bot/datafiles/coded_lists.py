"""Reading a data file that is a list of coded categories with the sources they rest on
(``data/outcomes.yml``, ``data/stats_categories.yml``): the parts both do the same way.

Their shape (snake_case codes, labels, sources with a read date) is checked by their schemas
(``bot/datafiles/schemas/``); what a schema cannot say is checked here: a code is used once.
Errors name the file, the line and the field.
"""

from __future__ import annotations

from bot.datafiles.sources import Source, sources_of
from bot.datafiles.yamlfile import LineDict, YamlFile


def items(source: YamlFile, key: str) -> list[tuple[str, LineDict]]:
    """The file's ``key`` list (checked by the schema), each item with its field name for errors."""
    return [(f"{key}[{i}]", item) for i, item in enumerate(source.data[key])]


def once(
    source: YamlFile, item: LineDict, field: str, key: str, value: str, seen: dict[str, int], used: str = "used"
) -> None:
    """``value`` (of ``item[key]``) must not have appeared before; remember where it did."""
    if value in seen:
        raise source.error(item, key, f"{field}.{key}", f"{value!r} is already {used} on line {seen[value]}")
    seen[value] = item.line_of(key)


def sources(source: YamlFile) -> tuple[Source, ...]:
    """Where the categories come from (the file's ``sources``, checked by the schema)."""
    return sources_of(source.data["sources"])
