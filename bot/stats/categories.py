"""The published category of each need (``data/stats_categories.yml``).

Counters keep the need (the intent the bot answered); exports add its category, so a helpline
reads "cyberbullying" or "self-harm or suicidal thoughts" in the style of Child Helpline
International's reasons for contact. Every need is listed once, so no count is published under two
categories or none; a broken file stops start-up with the file, the line and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from bot import DATA_DIR
from bot.datafiles import coded_lists
from bot.datafiles.sources import Source
from bot.datafiles.yamlfile import LineDict, YamlFile, load_mapping

CATEGORIES_PATH = DATA_DIR / "stats_categories.yml"
OTHER = "other"  # what the recorder counts a need under when this file does not list it
MENU_CHOICE = "menu_choice"  # a numbered answer to a language, country or yes/no menu
REQUIRED_NEEDS = (OTHER, MENU_CHOICE)  # the recorder produces these by itself
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
        found = coded_lists.sources(source)
        categories: list[Category] = []
        code_line: dict[str, int] = {}
        need_line: dict[str, int] = {}
        for field, item in coded_lists.items(source, "categories", ("code", "label", "chi", "needs")):
            category = _category(source, item, field)
            coded_lists.once(source, item, field, "code", category.code, code_line)
            for need in category.needs:
                coded_lists.once(source, item, field, "needs", need, need_line, used="listed")
            categories.append(category)
        for need in REQUIRED_NEEDS:
            if need not in need_line:
                raise source.error(
                    source.data,
                    "categories",
                    "categories",
                    f"must list the need {need!r}: the recorder counts it by itself",
                )
        return cls(categories, found)


def _category(source: YamlFile, item: LineDict, field: str) -> Category:
    coded_lists.known_fields(source, item, field, _FIELDS)
    code = coded_lists.code_of(source, item, field, "cyberbullying")
    label = coded_lists.label_of(source, item, field)
    chi = item.get("chi")
    if chi is not None and (not isinstance(chi, str) or not chi.strip()):
        raise source.error(item, "chi", f"{field}.chi", "must be the name of CHI's reason for contact (or left out)")
    needs = item.get("needs")
    if (
        not isinstance(needs, list)
        or not needs
        or not all(isinstance(n, str) and coded_lists.CODE.match(n) for n in needs)
    ):
        raise source.error(
            item, "needs", f"{field}.needs", "must be a non-empty list of needs (intents), such as [cyberbullying]"
        )
    return Category(code, label, chi.strip() if chi else None, tuple(needs))
