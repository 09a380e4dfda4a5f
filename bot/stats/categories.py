"""The published category of each need (``data/stats_categories.yml``).

Counters keep the need (the intent the bot answered); exports add its category, so a helpline
reads "cyberbullying" or "self-harm or suicidal thoughts" in the style of Child Helpline
International's reasons for contact. Every need is listed once, so no count is published under two
categories or none; a broken file stops start-up with the file, the line and the field (its shape is
checked by ``bot/datafiles/schemas/stats_categories.yml``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

from bot import DATA_DIR
from bot.datafiles import coded_lists
from bot.datafiles.schema import load_validated
from bot.datafiles.sources import Source

CATEGORIES_PATH = DATA_DIR / "stats_categories.yml"
OTHER = "other"  # what the recorder counts a need under when this file does not list it
MENU_CHOICE = "menu_choice"  # a numbered answer to a language, country or yes/no menu
REQUIRED_NEEDS = (OTHER, MENU_CHOICE)  # the recorder produces these by itself


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
        source = load_validated(path, "stats_categories")
        categories: list[Category] = []
        code_line: dict[str, int] = {}
        need_line: dict[str, int] = {}
        for field, item in coded_lists.items(source, "categories"):
            chi = item.get("chi")
            category = Category(item["code"], item["label"].strip(), chi.strip() if chi else None, tuple(item["needs"]))
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
        return cls(categories, coded_lists.sources(source))
