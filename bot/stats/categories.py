"""The published category of each need (``data/stats_categories.yml``).

Counters keep the need (the intent the bot answered); exports add its category, so a helpline
reads "cyberbullying" or "self-harm or suicidal thoughts" in the style of Child Helpline
International's reasons for contact. Every need is listed once, so no count is published under two
categories or none; a broken file stops start-up with the file, the line and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from bot import DATA_DIR
from bot.helplines import Source
from bot.outcomes import _sources  # the same `sources` list, checked the same way as in outcomes.yml
from bot.yamlfile import LineDict, YamlFile, load_mapping

CATEGORIES_PATH = DATA_DIR / "stats_categories.yml"
OTHER = "other"  # what the recorder counts a need under when this file does not list it
MENU_CHOICE = "menu_choice"  # a numbered answer to a language, country or yes/no menu
REQUIRED_NEEDS = (OTHER, MENU_CHOICE)  # the recorder produces these by itself
_CODE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")
_FIELDS = {"code", "label", "chi", "needs"}


@dataclass(frozen=True)
class Category:
    code: str  # published in exports
    label: str
    chi: Optional[str]  # CHI's main reason for contact, where a source confirms it
    needs: tuple[str, ...]


class Categories:
    def __init__(self, categories: Iterable[Category], sources: Iterable[Source] = ()) -> None:
        self.all = tuple(categories)
        self.sources = tuple(sources)
        self._by_need = {need: category for category in self.all for need in category.needs}

    @property
    def needs(self) -> frozenset[str]:
        return frozenset(self._by_need)

    def of(self, need: str) -> Category:
        """The category a need is published under (the "other" need's for one not listed)."""
        return self._by_need.get(need) or self._by_need[OTHER]

    @classmethod
    def load(cls, path: Path = CATEGORIES_PATH) -> "Categories":
        """Load and check the file; raise ConfigError (file, line, field) at the first defect."""
        source = load_mapping(path)
        for key in source.data:
            if key not in ("sources", "categories"):
                raise source.error(source.data, key, str(key), "is not a field here (expected sources and categories)")
        sources = _sources(source)
        items = source.data.get("categories")
        if not isinstance(items, list) or not items:
            raise source.error(source.data, "categories", "categories", "must be a list of {code, label, chi, needs}")
        categories: list[Category] = []
        code_line: dict[str, int] = {}
        need_line: dict[str, int] = {}
        for i, item in enumerate(items):
            field = f"categories[{i}]"
            if not isinstance(item, LineDict):
                raise source.error(source.data, "categories", field, "must be a mapping with code, label, chi and needs")
            category = _category(source, item, field)
            if category.code in code_line:
                raise source.error(item, "code", f"{field}.code", f"{category.code!r} is already used on line {code_line[category.code]}")
            code_line[category.code] = item.line_of("code")
            for need in category.needs:
                if need in need_line:
                    raise source.error(item, "needs", f"{field}.needs", f"{need!r} is already listed on line {need_line[need]}")
                need_line[need] = item.line_of("needs")
            categories.append(category)
        for need in REQUIRED_NEEDS:
            if need not in need_line:
                raise source.error(source.data, "categories", "categories", f"must list the need {need!r}: the recorder counts it by itself")
        return cls(categories, sources)


def _category(source: YamlFile, item: LineDict, field: str) -> Category:
    for key in item:
        if key not in _FIELDS:
            raise source.error(item, key, f"{field}.{key}", f"is not a field here (expected one of {', '.join(sorted(_FIELDS))})")
    code = item.get("code")
    if not isinstance(code, str) or not _CODE.match(code):
        raise source.error(item, "code", f"{field}.code", f"{code!r} must be snake_case, such as cyberbullying")
    label = item.get("label")
    if not isinstance(label, str) or not label.strip():
        raise source.error(item, "label", f"{field}.label", "must be a non-empty text")
    chi = item.get("chi")
    if chi is not None and (not isinstance(chi, str) or not chi.strip()):
        raise source.error(item, "chi", f"{field}.chi", "must be the name of CHI's reason for contact (or left out)")
    needs = item.get("needs")
    if not isinstance(needs, list) or not needs or not all(isinstance(n, str) and _CODE.match(n) for n in needs):
        raise source.error(item, "needs", f"{field}.needs", "must be a non-empty list of needs (intents), such as [cyberbullying]")
    return Category(code, label.strip(), chi.strip() if chi else None, tuple(needs))
