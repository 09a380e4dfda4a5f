"""One child's conversation replayed through the dialogue, as the action server would hold it.

Benchmarks and evaluations use it with an in-process Rasa model: the slots a turn sets are
carried to the next turn, as Rasa's tracker carries them.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

from bot.conversation.dialogue import SLOTS, Dialogue, Outcome, Turn


class Conversation:
    def __init__(self, dialogue: Dialogue, metadata: Optional[Mapping[str, Any]] = None) -> None:
        self.dialogue = dialogue
        self.metadata = {k: v for k, v in (metadata or {}).items() if v is not None}
        self.slots: dict[str, Any] = {name: None for name in SLOTS}
        self.said: list[str] = []  # the child's messages so far, as the tracker keeps them

    def say(self, parsed: Mapping[str, Any]) -> Outcome:
        """The dialogue's answer to one message parsed by Rasa (``Agent.parse_message``)."""
        turn = Turn.parsed({**parsed, "metadata": self.metadata}, dict(self.slots), self.said)
        self.said.append(parsed.get("text") or "")
        outcome = self.dialogue.respond(turn)
        self.slots.update(outcome.slots)
        return outcome
