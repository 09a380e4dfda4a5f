"""One language's file of children's texts, with who checked each text and when.

``data/texts/<lang>.yml`` (a full language), ``data/texts/plain/<lang>.yml`` (its plain-language
versions) and ``data/texts/numbers/<lang>.yml`` (a numbers-first language) share one shape:

    review:                       # the file's: every text's, unless listed under review.texts
      state: "machine draft"      # or "reviewed" (by a native speaker)
      by: "language model (Helpline Connector team)"
      date: "2026-11-29"
      texts:                      # texts whose review differs from the file's
        greet: {state: "reviewed", by: "Ana Ruiz", date: "2026-12-08"}
    texts:
      greet: "..."

:func:`render` writes it in one canonical form (the header comments kept, every value quoted), so
a file that went out to translators and came back unchanged (scripts.translations) is the
same file, byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bot.datafiles.schema import load_validated
from bot.datafiles.yamlfile import YamlFile

MACHINE_DRAFT = "machine draft"
REVIEWED = "reviewed"


@dataclass(frozen=True)
class Review:
    """Who checked a text: a machine draft until a native speaker has reviewed it."""

    state: str  # MACHINE_DRAFT | REVIEWED
    by: str = ""
    date: str = ""


@dataclass
class TextFile:
    """A text file's contents (see the module's docstring) and where it came from."""

    path: Path
    header: list[str]  # the comment lines at its top: guidance for whoever writes its texts
    review: Review
    texts: dict[str, str]
    reviews: dict[str, Review] = field(default_factory=dict)  # texts whose review is not the file's
    source: YamlFile | None = None  # as read (for errors naming the line); None once changed

    def review_of(self, key: str) -> Review:
        return self.reviews.get(key, self.review)


def read(path: Path) -> TextFile:
    """The file, checked against its schema (bot/datafiles/schemas/texts.yml)."""
    source = load_validated(path, "texts")
    review = source.data["review"]
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    return TextFile(
        path,
        header,
        _review(review),
        dict(source.data["texts"]),
        {key: _review(each) for key, each in (review.get("texts") or {}).items()},
        source,
    )


def _review(data: dict[str, object]) -> Review:
    return Review(str(data["state"]), str(data.get("by", "")), str(data.get("date", "")))


def render(file: TextFile) -> str:
    """The file in its canonical form."""
    lines = [*file.header, "review:", *(f"  {name}: {_quoted(value)}" for name, value in _fields(file.review))]
    if file.reviews:
        lines.append("  texts:")
        for key, review in file.reviews.items():
            inline = ", ".join(f"{name}: {_quoted(value)}" for name, value in _fields(review))
            lines.append(f"    {key}: {{{inline}}}")
    lines.append("texts:")
    lines += [f"  {key}: {_quoted(text)}" for key, text in file.texts.items()]
    return "\n".join(lines) + "\n"


def write(file: TextFile) -> None:
    file.path.write_text(render(file), encoding="utf-8")


def _fields(review: Review) -> list[tuple[str, str]]:
    return [
        (name, value) for name, value in (("state", review.state), ("by", review.by), ("date", review.date)) if value
    ]


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)
