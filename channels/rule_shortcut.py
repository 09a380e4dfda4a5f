"""The next action without running Rasa's policy graph, when the model's rules make it certain.

Every rule of this bot is one turn: "this intent, then action_reply" (data/rules.yml), and Rasa adds
"then listen". Yet Rasa ran its policy graph twice a message to find that out again: RulePolicy
rebuilt the conversation's states and matched them against every rule, and the graph's runner
scheduled it; 11 % of the Rasa server's CPU under ``scripts/bench_cluster.py``'s load.

So the graph's prediction for a (last action, intent) pair is kept the first time it is made and
given again for the same pair, but only where it cannot differ:

- the model's RulePolicy is the only policy, and every one of its rules is one turn (the state
  before the intent's action, and the one after it), with no slots, forms or text in them (checked
  once per loaded model: :func:`one_turn_rules`);
- the conversation has no active form and no follow-up action waiting;
- the intent is one of those rules' intents (Rasa's own ``restart`` and ``back`` always go
  through the graph).

Rasa's limit on actions in a row is checked as before. Everything else (slots, entities, earlier
turns) does not enter such a rule's decision.
"""

from __future__ import annotations

import copy
import json
from typing import Optional

from rasa.core.actions.action import Action, action_for_index
from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.processor import MessageProcessor
from rasa.exceptions import ActionLimitReached
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.trackers import DialogueStateTracker

_MEMO = "_helpline_rule_predictions"  # on the processor: one memo per loaded model
Pair = tuple[Optional[str], str]  # (the last action, the latest message's intent)


class _Memo:
    def __init__(self, intents: frozenset[str]) -> None:
        self.intents = intents
        self.predictions: dict[Pair, PolicyPrediction] = {}


def one_turn_rules(policy: RulePolicy) -> Optional[frozenset[str]]:
    """The intents of ``policy``'s rules if every rule is one turn of intent and action, else None."""
    lookup = policy.lookup
    if any(lookup.get(part) for part in ("rule_only_slots", "rule_only_loops", "rules_for_loop_unhappy_path")):
        return None
    intents = set()
    for key in lookup.get("rules", {}):
        states = json.loads(key)
        if not 1 <= len(states) <= 2 or any(set(state) - {"prev_action", "user"} for state in states):
            return None
        users = [state.get("user", {}) for state in states]
        if any(set(user) != {"intent"} for user in users) or len({user["intent"] for user in users}) != 1:
            return None
        if states[0].get("prev_action") != {"action_name": ACTION_LISTEN_NAME}:
            return None
        intents.add(users[0]["intent"])
    return frozenset(intents)


def _memo_of(processor: MessageProcessor) -> Optional[_Memo]:
    if not hasattr(processor, _MEMO):
        components = [
            getattr(node, "_component", None)
            for node in getattr(processor.graph_runner, "_instantiated_nodes", {}).values()
        ]
        policies = [c for c in components if isinstance(c, Policy)]
        intents = one_turn_rules(policies[0]) if len(policies) == 1 and type(policies[0]) is RulePolicy else None
        setattr(processor, _MEMO, _Memo(intents) if intents else None)
    memo: Optional[_Memo] = getattr(processor, _MEMO)
    return memo


def pair_of(processor: MessageProcessor, tracker: DialogueStateTracker) -> Optional[Pair]:
    """The tracker's (last action, intent), if the model's rules alone decide what follows it;
    taken before the graph predicts (it may clear a follow-up action)."""
    memo = _memo_of(processor)
    if memo is None or tracker.followup_action or tracker.active_loop_name or tracker.latest_message is None:
        return None
    intent = tracker.latest_message.intent.get("name")
    return (tracker.latest_action_name, intent) if intent in memo.intents else None


def remembered(
    processor: MessageProcessor, tracker: DialogueStateTracker, pair: Optional[Pair]
) -> Optional[tuple[Action, PolicyPrediction]]:
    """The action and prediction the graph gave before for ``pair``; None: ask the graph."""
    memo = _memo_of(processor)
    prediction = memo.predictions.get(pair) if memo is not None and pair is not None else None
    if prediction is None:
        return None
    if processor.is_action_limit_reached(tracker, processor.should_predict_another_action(tracker.latest_action_name)):
        raise ActionLimitReached("The limit of actions to predict has been reached.")
    action = action_for_index(prediction.max_confidence_index, processor.domain, processor.action_endpoint)
    return action, copy.deepcopy(prediction)


def remember(processor: MessageProcessor, pair: Optional[Pair], prediction: PolicyPrediction) -> None:
    """Keep the graph's ``prediction`` for ``pair``."""
    memo = _memo_of(processor)
    if memo is not None and pair is not None:
        memo.predictions.setdefault(pair, copy.deepcopy(prediction))
