"""The faster action-response check accepts and refuses exactly what Rasa's own does."""

import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction

import channels  # noqa: F401 - installs the speed-up, as Rasa loading our channels does
from channels.rasa_speedups import _validate_action_result

GOOD = {"events": [{"event": "slot", "name": "language", "value": "en", "timestamp": None}],
        "responses": [{"text": "Take care.", "buttons": [{"title": "1. Yes", "payload": "1"}]}]}
BAD = [
    {"events": [{"event": "no_such_event"}]},
    {"events": "not a list"},
    {"events": [{"event": "slot", "name": 3}]},
]


def test_installed_in_rasa():
    assert RemoteAction._validate_action_result is _validate_action_result


def test_a_good_answer_passes_as_with_rasa():
    assert _validate_action_result(None, GOOD) is True
    jsonschema.validate(GOOD, RemoteAction.action_response_format_spec())


@pytest.mark.parametrize("answer", BAD)
def test_a_bad_answer_is_refused_as_rasa_refuses_it(answer):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(answer, RemoteAction.action_response_format_spec())
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        _validate_action_result(None, answer)
