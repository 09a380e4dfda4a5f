"""Rasa's graph run in the order worked out once (channels/graph_order.py) gives what dask gave:
the same parses and the same next actions, from the same nodes."""

from __future__ import annotations

import pytest
from rasa.core.agent import Agent
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import UserUttered

import channels  # noqa: F401 - installs the runner, as Rasa loading our channels does
from channels.graph_order import _rasa_run, _run, plan

TEXTS = [
    "i want to die",
    "hola necesito ayuda",
    "我想死",
    "помогите",
    "1",
    "nataka kuongea na mtu",
    "🙂",
    "thank you bye",
]

pytestmark = pytest.mark.rasa


@pytest.fixture(scope="module")
def agent(model) -> Agent:
    return Agent.load(str(model))


def test_installed_in_rasa():
    assert DaskGraphRunner.run is _run


async def test_every_parse_is_the_one_dask_gave(agent, monkeypatch):
    ours = [await agent.parse_message(text) for text in TEXTS]
    monkeypatch.setattr(DaskGraphRunner, "run", _rasa_run)
    assert [await agent.parse_message(text) for text in TEXTS] == ours
    assert ours[0]["intent"]["name"] == "self_harm"


async def test_every_next_action_is_the_one_dask_gave(agent, monkeypatch):
    processor = agent.processor
    trackers = []
    for text in TEXTS:
        tracker = await processor.fetch_tracker_with_initial_session(f"graph-order-{len(trackers)}")
        parsed = await agent.parse_message(text)
        tracker.update(UserUttered(text, parsed["intent"], parsed["entities"], parsed))
        trackers.append(tracker)
    ours = [processor.predict_next_with_tracker_if_should(t) for t in trackers]
    monkeypatch.setattr(DaskGraphRunner, "run", _rasa_run)
    rasas = [processor.predict_next_with_tracker_if_should(t) for t in trackers]
    for (our_action, our_prediction), (rasa_action, rasa_prediction) in zip(ours, rasas, strict=True):
        assert our_action.name() == rasa_action.name()
        assert our_prediction.policy_name == rasa_prediction.policy_name
        assert our_prediction.probabilities == rasa_prediction.probabilities
    assert ours[0][0].name() != "action_listen"  # "i want to die" is answered


def test_each_node_runs_after_the_nodes_it_reads_and_only_the_nodes_needed(agent):
    metadata = agent.processor.model_metadata
    schema = agent.processor.graph_runner._graph_schema
    for targets in ([metadata.nlu_target], [metadata.core_target], [metadata.nlu_target, metadata.core_target]):
        steps = plan(schema, tuple(targets))
        names = [name for name, _ in steps]
        assert len(names) == len(set(names))
        assert set(names) == set(schema.minimal_graph_schema(list(targets)).nodes)
        for position, (name, needs) in enumerate(steps):
            assert all(need not in schema.nodes or need in names[:position] for need in needs), name


def test_an_input_named_like_a_node_is_refused_as_rasa_refuses_it(agent):
    runner, target = agent.processor.graph_runner, agent.processor.model_metadata.nlu_target
    for run in (_run, _rasa_run):
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            run(runner, inputs={"__message__": target}, targets=[target])
