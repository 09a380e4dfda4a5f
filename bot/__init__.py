"""Helpline Connector's core library: everything the bot knows, testable without Rasa.

The channels and the Rasa custom actions are thin adapters around this package; the
data it reads (texts, helplines, crisis lexicons) lives in ``data/`` next to the Rasa files.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
