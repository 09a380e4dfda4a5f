"""The README's table of languages: each with its tier, the routed countries that speak it, and
who has checked its texts (``python -m scripts.language_table``; a test keeps the README in step).

A full language has NLU data, every text and the crisis lists; a numbers-first language is
recognised and answered with the numbers in its own words (data/texts/numbers/<code>.yml).
"""

from __future__ import annotations

from bot.conversation.dialogue import Dialogue


def table(dialogue: Dialogue) -> str:
    registry, texts = dialogue.registry, dialogue.texts
    rows = ["| code | language | tier | routed countries | texts |", "|---|---|---|---|---|"]
    for code in registry.recognised_codes:
        language = registry.language(code)
        countries = " ".join(c for c in dialogue.table.codes if code in registry.spoken_in(c)) or "-"
        tier = "full" if registry.full(code) else "numbers-first"
        rows.append(f"| `{code}` | {language.name} | {tier} | {countries} | {texts.reviewed(code).describe()} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table(Dialogue.load()))
