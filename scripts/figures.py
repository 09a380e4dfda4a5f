"""The machine-readable lines the benchmarks end with: one JSON object per figure."""

from __future__ import annotations

import json
from typing import Mapping


def print_figures(bench: str, figures: Mapping[str, float], units: Mapping[str, str], default_unit: str = "ms") -> None:
    for metric, value in figures.items():
        line = {"bench": bench, "metric": metric, "value": round(value, 2), "unit": units.get(metric, default_unit)}
        print(json.dumps(line))
