"""Every full language in one model: training time from scratch, the servers' resident memory, and
the time a reply takes, one message at a time (``make bench-languages``).

Issue 17's limits for thirty full languages: training under 10 minutes on this 2-core machine,
the Rasa server's resident memory at most 1 GB, and sequential p99 within 1.5x of the ten-language
bot's. The model is trained from scratch into a temporary folder (``--model PATH`` skips that and
measures a trained one), the bot is started as the tests start it (action server and Rasa server,
in-memory stores), and the messages go through its webhook one after another: the held-out sets of
the first ten languages (``tests/heldout``) and, for the others, the fresh blind sets of the new
full languages (``tests/blind/full/fresh``), each the first message of its conversation.

    make bench-languages
    python -m scripts.bench_languages --model models/helpline.tar.gz
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

import yaml

from bot import PROJECT_ROOT
from bot.language.detection import LanguageRegistry
from scripts.bench_server import resident_mib
from scripts.figures import print_figures
from scripts.local_bot import running_bot

SETS = (PROJECT_ROOT / "tests" / "heldout", PROJECT_ROOT / "tests" / "blind" / "full" / "fresh")


def train(out: Path) -> tuple[Path, float]:
    """A model trained from scratch as ``make model`` trains it (an empty cache of Rasa's graph
    components, so nothing is reused); its path and the seconds it took."""
    started = time.monotonic()
    subprocess.run(
        [
            str(PROJECT_ROOT / ".venv" / "bin" / "rasa"),
            "train",
            "--config", "config.yml",
            "--domain", "domain.yml",
            "--data", "data/nlu", "data/rules.yml",
            "--out", str(out),
            "--fixed-model-name", "bench",
            "--quiet",
        ],
        cwd=PROJECT_ROOT,
        env={**os.environ, "RASA_CACHE_DIRECTORY": str(out / "cache")},
        check=True,
    )  # fmt: skip
    return out / "bench.tar.gz", time.monotonic() - started


def messages(languages: list[str]) -> list[tuple[str, str, Optional[str], str]]:
    """(language, text, country, set's name) of every message of the sets in ``languages``."""
    found = []
    for folder in SETS:
        for path in sorted(folder.glob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            language = str(data.get("language") or path.stem)
            if language not in languages:
                continue
            for item in data["messages"]:  # each with its own country (held-out) or the set's (blind)
                country = item.get("country") or data.get("country")
                found.append((language, str(item["text"]), country, folder.name))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="measure this trained model instead of training one")
    args = parser.parse_args()
    languages = LanguageRegistry().codes
    sent = messages(languages)
    if not sent:
        print("no messages found in the sets", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as folder:
        model, trained_s = (args.model, float("nan")) if args.model else train(Path(folder) / "models")
        with running_bot(Path(folder), model) as bot:
            latencies: dict[str, list[float]] = {}
            for index, (_, text, country, group) in enumerate(sent):
                started = time.perf_counter()
                bot.say(f"bench-{index}", text, {"country": country} if country else {})
                latencies.setdefault(group, []).append((time.perf_counter() - started) * 1000)
            figures = {
                "languages": len(languages),
                "train_s": trained_s,
                "rasa_rss_mib": resident_mib(bot.server.pid),
                "actions_rss_mib": resident_mib(bot.actions.pid) if bot.actions else float("nan"),
            }
            every = [ms for group in latencies.values() for ms in group]
            for name, group in {**latencies, "all": every}.items():
                figures[f"{name}_messages"] = len(group)
                figures[f"{name}_p50_ms"] = statistics.median(group)
                figures[f"{name}_p99_ms"] = statistics.quantiles(group, n=100)[98]
    print(f"{figures['languages']} full languages in one model ({model.name})")
    print(f"training from scratch: {figures['train_s']:.0f} s (limit 600 s)")
    print(
        f"resident memory: Rasa server {figures['rasa_rss_mib']:.0f} MiB (limit 1024), "
        f"action server {figures['actions_rss_mib']:.0f} MiB"
    )
    for name in [*latencies, "all"]:
        print(
            f"{name}: {figures[f'{name}_messages']:.0f} messages one at a time through the webhook: "
            f"p50 {figures[f'{name}_p50_ms']:.1f} ms, p99 {figures[f'{name}_p99_ms']:.1f} ms"
        )
    units = {"train_s": "s", "rasa_rss_mib": "MiB", "actions_rss_mib": "MiB", "languages": "", "all_messages": ""}
    print_figures("languages", figures, units | {f"{name}_messages": "" for name in latencies})
    return 0


if __name__ == "__main__":
    sys.exit(main())
