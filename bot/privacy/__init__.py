"""Keeping as little about a child as we can: the keyed hash that stands for their address, and
erasing everything kept about them when they ask.
"""

from bot.privacy.erasure import ERASE, Eraser, asks_to_erase
from bot.privacy.sender_ids import MissingSecret, SenderIds

__all__ = ["ERASE", "Eraser", "MissingSecret", "SenderIds", "asks_to_erase"]
