"""Which languages to make full first: every recognised language ranked by how many people of the
routed countries speak it, with its tier (``python -m scripts.rank_languages``); the numbers-first
ones highest in the list come next.

Reach of a language = the sum, over the routed countries (data/helplines.yml), of the country's
population (scripts/population.yml: UN World Population Prospects 2024) times the share of its
people who speak the language (CLDR's territory data, through Babel: first and second language).
Total population stands in for children: no one source gives the under-18 population of all 161
territories, and the share of children differs far less between countries than population does.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from babel.core import get_global

from bot.language.detection import LanguageRegistry
from bot.routing.helplines import RoutingTable

POPULATION = Path(__file__).with_name("population.yml")


def reach(registry: LanguageRegistry, countries: list[str]) -> dict[str, float]:
    """People reached by each recognised language, in the routed countries."""
    population = yaml.safe_load(POPULATION.read_text(encoding="utf-8"))["population"]
    shares = get_global("territory_languages")
    found = {}
    for code in registry.recognised_codes:
        base = code.split("-")[0]
        found[code] = sum(
            population[country] * (shares.get(country, {}).get(base, {}).get("population_percent") or 0) / 100
            for country in countries
        )
    return found


if __name__ == "__main__":
    registry = LanguageRegistry()
    countries = RoutingTable.load().codes
    ranked = sorted(reach(registry, countries).items(), key=lambda item: -item[1])
    print("| rank | code | language | tier | people reached (millions) | routed countries where official or majority |")
    print("|---|---|---|---|---|---|")
    for rank, (code, people) in enumerate(ranked, 1):
        where = " ".join(c for c in countries if code in registry.spoken_in(c))
        name = registry.language(code).name
        tier = "full" if registry.full(code) else "numbers-first"
        print(f"| {rank} | `{code}` | {name} | {tier} | {people / 1e6:.1f} | {where} |")
