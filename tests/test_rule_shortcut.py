"""The next action from the graph's earlier prediction where the model's one-turn rules decide it
(channels/rule_shortcut.py): the same actions, policies and confidences as the graph gives, turn
by turn, and the graph is asked only where it could answer otherwise."""

from __future__ import annotations

import json
import uuid
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted

import channels  # noqa: F401 - installs the shortcut, as Rasa loading our channels does
from bot.wiring.services import Services
from bot.wiring.settings import Settings
from channels import rule_shortcut
from channels.tracker_store import HelplineTrackerStore
from tests.conftest import action_server_module
from tests.in_process_actions import InProcessActions

LISTEN = {"prev_action": {"action_name": "action_listen"}}


def rules(*keys: list[dict[str, Any]]) -> Any:
    """A stand-in for a trained RulePolicy: its lookup of rules (state lists) to actions."""
    return SimpleNamespace(lookup={"rules": {json.dumps(key, sort_keys=True): "action_reply" for key in keys}})


def test_one_turn_rules_give_their_intents_and_anything_else_turns_the_shortcut_off():
    greet = [{**LISTEN, "user": {"intent": "greet"}}]
    after = greet + [{"prev_action": {"action_name": "action_reply"}, "user": {"intent": "greet"}}]
    assert rule_shortcut.one_turn_rules(rules(greet, after)) == {"greet"}
    longer = after + [{"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}]
    with_slot = [{**LISTEN, "user": {"intent": "greet"}, "slots": {"country": (1.0,)}}]
    with_entity = [{**LISTEN, "user": {"intent": "greet", "entities": ["country"]}}]
    from_the_start = [{"user": {"intent": "greet"}}]  # conversation_start: true
    two_intents = greet + [{"prev_action": {"action_name": "action_reply"}, "user": {"intent": "bye"}}]
    for shape in (longer, with_slot, with_entity, from_the_start, two_intents):
        assert rule_shortcut.one_turn_rules(rules(greet, shape)) is None, shape
    form = rules(greet)
    form.lookup["rule_only_loops"] = ["a_form"]
    assert rule_shortcut.one_turn_rules(form) is None


@pytest.fixture(scope="module")
def actions() -> ModuleType:
    return action_server_module()


MESSAGES = ["hi", "i want to die", "hi", "asdkjh qwe", "1", "what do you keep about me", "hola", "asdkjh qwe", "hi"]


def decisions(tracker: Any) -> list[tuple[str, Any, Any, Any]]:
    return [
        (e.action_name, e.policy, e.confidence, e.hide_rule_turn)
        for e in tracker.events
        if isinstance(e, ActionExecuted) and e.action_name != "action_session_start"
    ]


@pytest.mark.rasa
async def test_the_same_decisions_as_the_graph_and_the_graph_asked_once_per_pair(model, actions, monkeypatch):
    store = HelplineTrackerStore(None, services=Services(Settings.from_environ({})))
    agent = Agent.load(str(model), tracker_store=store, action_endpoint=InProcessActions(actions))
    store.domain = agent.domain
    graph_calls: list[Any] = []
    predict = agent.processor.predict_next_with_tracker_if_should

    def counted(tracker: Any) -> Any:
        graph_calls.append(rule_shortcut.pair_of(agent.processor, tracker))
        return predict(tracker)

    monkeypatch.setattr(agent.processor, "predict_next_with_tracker_if_should", counted)

    async def talk(sender: str) -> tuple[list[Any], list[Any]]:
        replies = []
        for text in MESSAGES:
            output = CollectingOutputChannel()
            await agent.handle_message(UserMessage(text, output, sender, metadata={"country": "KE"}))
            replies.append([(m.get("text"), m.get("buttons")) for m in output.messages])
        return replies, decisions(await store.retrieve_full_tracker(sender))

    shortcut = await talk(f"rest-{uuid.uuid4().hex}")
    asked_with_shortcut = list(graph_calls)
    monkeypatch.setattr(rule_shortcut, "remembered", lambda *args: None)  # the graph every time
    graph_calls.clear()
    graph = await talk(f"rest-{uuid.uuid4().hex}")
    assert shortcut == graph  # the same replies, and the same actions, policies and confidences
    assert len(graph_calls) == 2 * len(MESSAGES)
    pairs = [pair for pair in asked_with_shortcut if pair is not None]
    assert pairs and len(pairs) == len(set(pairs))  # each (last action, intent) asked of the graph once
    assert len(asked_with_shortcut) < len(graph_calls)
