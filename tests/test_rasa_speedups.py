"""The faster action-response check accepts and refuses exactly what Rasa's own does, and the
event table finds the classes Rasa's own lookup finds, and the classifier ranks as before, from
the same features."""

import gc

import jsonschema
import numpy as np
import pytest
import scipy.sparse
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, SlotSet, UserUttered
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses

import channels  # noqa: F401 - installs the speed-ups, as Rasa loading our channels does
from channels.rasa_speedups import _create_x, _domain_is_empty, _passes_by_kind, _validate_action_result
from channels.rasa_speedups import _rasa_create_x as RASA_CREATE_X
from channels.rasa_speedups import _rasa_resolve_by_type as RASA_RESOLVE

GOOD = {
    "events": [{"event": "slot", "name": "language", "value": "en", "timestamp": None}],
    "responses": [{"text": "Take care.", "buttons": [{"title": "1. Yes", "payload": "1"}]}],
}
MANY_KINDS = {  # a first turn's kind of answer, and more kinds of event besides
    "events": [
        {"event": "slot", "name": "privacy_told", "value": "1", "timestamp": None},
        {"event": "slot", "name": "country", "value": None},
        {"event": "bot", "text": "Hi, I am here to help.", "data": {"buttons": []}, "metadata": {}},
        {"event": "followup", "name": "action_listen"},
        {"event": "action", "name": "action_reply", "policy": None, "confidence": 1.0},
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
        {"event": "reminder", "intent": "remind", "date_time": "2026-12-07T10:00:00", "name": "r"},
        {"event": "reset_slots"},
        {"event": "restart", "timestamp": 1.5},
        {"event": "session_started", "metadata": None},
        {"event": "active_loop", "name": None},
    ],
    "responses": [{"text": "Take care."}, {"text": "Call 116 111."}],
}
BAD = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": 3}]},
    {"events": [{"name": "language", "value": "en"}]},  # no event name
    {"events": [{"event": 7}]},
    {"events": [{"event": "bot", "text": "hi", "metadata": "not an object"}]},
    {"events": [{"event": "slot", "value": "en"}]},  # a slot needs its name
    {"events": [{"event": "user", "parse_data": "not an object"}]},
    {"events": [GOOD["events"][0], {"event": "followup"}, "not an event"]},
    {"events": [{"event": "slot", "name": "language", "value": "en", "timestamp": "noon"}]},
    ["not", "an", "object"],
]


def test_installed_in_rasa():
    assert RemoteAction._validate_action_result is _validate_action_result


@pytest.mark.parametrize("answer", [GOOD, MANY_KINDS])
def test_a_good_answer_passes_as_with_rasa(answer):
    jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    assert _passes_by_kind(answer)  # each event checked against its own kind only
    assert _validate_action_result(None, answer) is True


@pytest.mark.parametrize("answer", BAD)
def test_a_bad_answer_is_refused_as_rasa_refuses_it(answer):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    assert not _passes_by_kind(answer)
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        _validate_action_result(None, answer)


def event_names() -> list[str]:
    return sorted({cls.type_name for cls in all_subclasses(Event)})


@pytest.mark.parametrize("name", event_names())
def test_each_event_name_gives_the_class_rasa_gives(name):
    assert Event.resolve_by_type is not RASA_RESOLVE
    assert Event.resolve_by_type(name) is RASA_RESOLVE(name)
    assert Event.resolve_by_type(name) is RASA_RESOLVE(name)  # and again, from the table


def test_an_unknown_event_name_is_answered_as_rasa_answers_it():
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    assert Event.from_parameters({"event": "slot", "name": "language", "value": "en"}) == SlotSet("language", "en")


@pytest.mark.rasa
async def test_the_intent_classifier_loads_column_major_and_ranks_as_before(model):
    agent = Agent.load(str(model))
    classifier = next(
        o for o in gc.get_objects() if isinstance(o, LogisticRegressionClassifier) and hasattr(o.clf, "coef_")
    )
    assert classifier.clf.coef_.flags["F_CONTIGUOUS"]
    features = scipy.sparse.random(3, classifier.clf.coef_.shape[1], density=0.002, format="csr", random_state=1)
    column_major = classifier.clf.predict_proba(features)
    classifier.clf.coef_ = np.ascontiguousarray(classifier.clf.coef_)  # as Rasa loads it
    assert np.array_equal(classifier.clf.predict_proba(features), column_major)
    assert (await agent.parse_message("i want to die"))["intent"]["name"] == "self_harm"


@pytest.mark.rasa
async def test_the_classifier_reads_the_same_features_as_with_rasa(model, monkeypatch):
    """Messages in several scripts: the same matrix as Rasa's own, cell by cell, and the same
    probabilities from it."""
    agent = Agent.load(str(model))
    installed = LogisticRegressionClassifier._create_X
    assert installed is not RASA_CREATE_X
    seen = []

    def both(self, messages):
        ours, rasas = installed(self, messages), RASA_CREATE_X(self, messages)
        seen.append((ours, rasas, self.clf.predict_proba(ours), self.clf.predict_proba(rasas)))
        return ours

    monkeypatch.setattr(LogisticRegressionClassifier, "_create_X", both)
    texts = ["i want to die", "hola necesito ayuda", "我想死", "помогите", "1", "nataka kuongea na mtu", "🙂"]
    for text in texts:
        await agent.parse_message(text)
    assert len(seen) == len(texts)
    for ours, rasas, ours_p, rasas_p in seen:
        assert ours.shape == rasas.shape and (ours != rasas).nnz == 0
        assert ours.dtype == rasas.dtype
        for part in ("data", "indices", "indptr"):  # stored alike, so multiplied alike
            assert np.array_equal(getattr(ours, part), getattr(rasas, part)), part
        assert np.array_equal(ours_p, rasas_p)


def test_a_domain_is_empty_exactly_when_rasa_says_so():
    assert Domain.is_empty is _domain_is_empty
    for domain in (Domain.empty(), Domain.load("domain.yml"), Domain.from_dict({"intents": ["greet"]})):
        assert domain.is_empty() == (domain.as_dict() == Domain.empty().as_dict())  # Rasa's definition
    assert Domain.empty().is_empty() and not Domain.load("domain.yml").is_empty()


def test_features_out_of_order_or_no_messages_go_rasas_way(monkeypatch):
    """Only rows whose columns are in order are placed straight into the matrix; the rest (and an
    empty batch) is Rasa's to assemble, as before."""
    calls = []
    monkeypatch.setattr("channels.rasa_speedups._rasa_create_x", lambda self, messages: calls.append(messages))
    unordered = scipy.sparse.coo_matrix((np.array([1.0, 2.0]), (np.array([0, 0]), np.array([5, 2]))), shape=(1, 9))
    message = Message(data={"text": "hi"})
    message.add_features(Features(unordered, FEATURE_TYPE_SENTENCE, TEXT, "CountVectorsFeaturizer"))
    _create_x(None, [message])
    _create_x(None, [])
    assert calls == [[message], []]
