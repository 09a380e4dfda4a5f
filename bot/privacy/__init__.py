"""Keeping as little about a child as we can: the keyed hash that stands for their address, the web
chat tokens only the server issues, secrets compared safely, and erasing everything kept about
them when they ask.
"""

from bot.privacy.chat_tokens import ChatTokens
from bot.privacy.erasure import ERASE, Eraser, asks_to_erase
from bot.privacy.secret_compare import same_secret
from bot.privacy.sender_ids import MissingSecret, SenderIds

__all__ = ["ERASE", "ChatTokens", "Eraser", "MissingSecret", "SenderIds", "asks_to_erase", "same_secret"]
