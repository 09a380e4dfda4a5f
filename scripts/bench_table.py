"""Routing-table benchmark: load time (fresh process, with and without the phonenumbers cache) and lookups per second.

make bench-table
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time

from bot.routing.contact_choice import advise
from bot.routing.helplines import RoutingTable

LOOKUPS = 200_000
ADVICE = 50_000


def fresh_process_load_ms(with_cache: bool) -> float:
    """Load the table in a fresh interpreter (imports done first, only the load timed).

    Without the cache of phonenumbers' verdicts (a clean clone's first start), phonenumbers
    compiles each country's metadata; with it (every later start), it is not needed.
    """
    code = (
        "import sys, tempfile, time, pathlib; import bot.routing.phone_check as pc\n"
        "from bot.routing.helplines import RoutingTable\n"
        "if sys.argv[1] == 'no': pc.CACHE_PATH = pathlib.Path(tempfile.mkdtemp()) / 'none.json'\n"
        "t = time.perf_counter(); RoutingTable.load(); print((time.perf_counter() - t) * 1000)"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, "yes" if with_cache else "no"], capture_output=True, text=True, check=True
    )
    return float(run.stdout)


def main() -> int:
    RoutingTable.load()  # writes the cache if it is missing
    uncached = min(fresh_process_load_ms(with_cache=False) for _ in range(3))
    cached = min(fresh_process_load_ms(with_cache=True) for _ in range(3))
    started = time.perf_counter()
    table = RoutingTable.load()
    warm = (time.perf_counter() - started) * 1000
    codes = table.codes
    started = time.perf_counter()
    for i in range(LOOKUPS):
        table.get(codes[i % len(codes)])
    lookups = LOOKUPS / (time.perf_counter() - started)
    now = dt.datetime.now(dt.timezone.utc)
    countries = [table.get(code) for code in codes]
    started = time.perf_counter()
    for i in range(ADVICE):
        advise(countries[i % len(countries)], "sms", now)
    advices = ADVICE / (time.perf_counter() - started)
    print(f"table: {len(table)} countries")
    print(
        f"load in a fresh process: {cached:.0f} ms (usual start), {uncached:.0f} ms (first start of a clean clone: "
        f"phonenumbers compiles every country's metadata); again in the same process: {warm:.0f} ms"
    )
    print(f"lookups (country code -> entry): {lookups:,.0f} per second")
    print(f"advice (best way to reach the helpline for the channel, open now): {advices:,.0f} per second")
    figures = {
        "load_ms": (cached, "ms"),
        "load_first_start_ms": (uncached, "ms"),
        "load_again_ms": (warm, "ms"),
        "lookups_per_s": (lookups, "1/s"),
        "advice_per_s": (advices, "1/s"),
    }
    for metric, (value, unit) in figures.items():
        print(json.dumps({"bench": "table", "metric": metric, "value": round(value, 1), "unit": unit}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
