"""Rasa's model runs in a thread of its own, at a lower priority, so the event loop answers first.

Rasa 3.6 runs its graph (the NLU pipeline for each message, the policies for each next action)
synchronously inside the event loop. Under load, every webhook, Redis reply and crisis ticket
waited behind those runs. Here both calls go to one worker thread, and the operating system runs
that thread at a lower priority than the loop's (bot/wiring/priority.py): when the CPU is short, the
loop's work (webhooks, a crisis ticket, replies going out) runs before the model's. The model's
work is not slower when the CPU is free, and every message is parsed and answered as before.

Measured with ``.venv/bin/python -m scripts.bench_cluster --crisis-only`` (a crisis SMS to its
ticket in the console, 100 crises among 60 children talking, 3 servers on 2 cores; the ticket
already opened at the webhook): p99 901 ms with the thread at the loop's priority, the same as
without it; 168 and 223 ms (two runs) with it lower.

One thread, not a pool: the graph's components (featurizers, classifier, policies) were written
for one caller at a time, and the GIL serialises their work anyway.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, Optional, Text, TypeVar

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.exceptions import ActionLimitReached
from rasa.shared.core.constants import ACTION_EXTRACT_SLOTS
from rasa.shared.core.trackers import DialogueStateTracker

import channels.rule_shortcut as rule_shortcut
from bot.wiring.priority import lower_this_thread

logger = logging.getLogger(__name__)

GRAPH = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rasa-graph", initializer=lower_this_thread)
_rasa_parse_message = MessageProcessor.parse_message
T = TypeVar("T")


async def in_graph_thread(work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in the graph's thread; the caller's coroutine waits without holding the loop."""
    return await asyncio.get_running_loop().run_in_executor(GRAPH, work, *args)


async def _parse_message(
    self: MessageProcessor,
    message: UserMessage,
    tracker: Optional[DialogueStateTracker] = None,
    only_output_properties: bool = True,
) -> Dict[Text, Any]:
    if self.http_interpreter:  # parsed by another server: nothing runs here
        return await _rasa_parse_message(self, message, tracker, only_output_properties)
    if tracker is None:
        tracker = DialogueStateTracker.from_events(message.sender_id, [])
    parse_data = await in_graph_thread(self._parse_message_with_graph, message, tracker, only_output_properties)
    self._update_full_retrieval_intent(parse_data)
    self._check_for_unseen_features(parse_data)
    return parse_data


async def _run_prediction_loop(
    self: MessageProcessor, output_channel: OutputChannel, tracker: DialogueStateTracker
) -> None:
    """Rasa's loop (predict, run, until the policy chooses to listen), the prediction in the thread,
    or, where the model's one-turn rules decide it, the graph's earlier prediction (channels.rule_shortcut)."""
    should_predict_another_action = True
    while should_predict_another_action and self._should_handle_message(tracker):
        try:
            pair = rule_shortcut.pair_of(self, tracker)
            known = rule_shortcut.remembered(self, tracker, pair)
            if known is None:
                action, prediction = await in_graph_thread(self.predict_next_with_tracker_if_should, tracker)
                rule_shortcut.remember(self, pair, prediction)
            else:
                action, prediction = known
        except ActionLimitReached:
            logger.warning("Circuit breaker tripped: stopped predicting more actions for this conversation.")
            if self.on_circuit_break:
                self.on_circuit_break(tracker, output_channel, self.nlg)
            break
        if prediction.is_end_to_end_prediction:
            logger.debug("An end-to-end prediction runs %s again.", ACTION_EXTRACT_SLOTS)
            tracker = await self.run_action_extract_slots(output_channel, tracker)
        should_predict_another_action = await self._run_action(action, tracker, output_channel, self.nlg, prediction)


def install() -> None:
    MessageProcessor.parse_message = _parse_message
    MessageProcessor._run_prediction_loop = _run_prediction_loop
