"""What the bot says: the dialogue's rules (crisis first, the floor of numbers, menus, intents),
the crisis phrase lists and the learnt risk classifier, what a child is told around a handoff
(the relay), and SMS segment arithmetic.
"""

from bot.conversation.dialogue import BotMessage, Dialogue, Outcome, Turn
from bot.conversation.relay import Relay

__all__ = ["BotMessage", "Dialogue", "Outcome", "Relay", "Turn"]
