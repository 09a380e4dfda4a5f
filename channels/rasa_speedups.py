"""Five measured fixes to Rasa 3.6's per-message work, installed when Rasa loads our channels
(``channels/__init__.py``).

The action server's answer is validated with a validator built once. Rasa's
``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which first checks the
(constant) response schema against the JSON Schema meta-schema, on every message: 18.4 ms of the
19.3 ms the call takes on this machine, more than half of the Rasa server's CPU per message. The
answer is still validated against the same schema, with the same error; only the schema is no
longer re-checked each time.
Each event of the answer is then checked against the one kind of event it names. Rasa's schema
says an event must match exactly one of 23 kinds (``oneOf``), so jsonschema tried all 23 on every
event: a first turn's answer (the privacy notice, slots, several messages) took 60 % more of the
server's CPU than a later one, most of it there. Every kind fixes its ``event`` name, and no two
share one, so an event with a name matches the kind of that name or none: checking that kind
alone (and what every event needs) accepts exactly what ``oneOf`` accepts. An answer that fails,
or a schema of another shape, is checked Rasa's way, for Rasa's error.

An event's class is found by its name in a table. Rasa's ``Event.resolve_by_type`` walks every
Event subclass (``inspect.isabstract`` on each) for every event of every tracker it reads, 43 us
each: about 15 % of the Rasa server's CPU in ``make bench-handoff``, more as conversations grow.
The table holds what that walk found, so a name gives the same class; a name not in it is looked
up as before.

The intent classifier's weights are kept column-major once loaded. scikit-learn multiplies each
message's features by the transposed weights, which scipy copied into a new array every time
(17 x 50,339 here): 0.73 ms a message, 0.06 ms without the copy, with the same probabilities.

The intent classifier reads only the message's sentence features. Rasa's ``_create_X`` asked the
message for all its sparse features, which also joins every featurizer's per-token matrices (and
deep-copies the first), then dropped them: 0.81 ms a message on this machine. Here the sentence
features alone (one row of counts per featurizer, its columns in order) are placed side by side
straight into the arrays of the same matrix, with no scipy block assembly: 0.05 ms. A message
with dense features, or features of another shape, goes Rasa's own way.

Whether the domain is empty is compared with an empty domain built once. Rasa's
``Domain.is_empty`` builds ``Domain.empty()`` on every call (0.1 ms), and the processor asks for
every message it parses.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any, Optional

import jsonschema
import numpy as np
import scipy.sparse
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses

_rasa_resolve_by_type = Event.resolve_by_type
_rasa_load_classifier = LogisticRegressionClassifier.load.__func__
_rasa_create_x = LogisticRegressionClassifier._create_X
_event_classes: dict[str, type[Event]] = {}


@lru_cache(maxsize=1)
def response_validator() -> Any:
    """A validator for Rasa's action-server response schema, the schema checked once."""
    schema = RemoteAction.action_response_format_spec()
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@lru_cache(maxsize=1)
def event_validators() -> Optional[tuple[Any, dict[str, Any]]]:
    """A validator for the answer without its events' ``oneOf``, and one for each kind of event by
    its name; None if the schema is not of the shape this relies on (each kind names itself, once)."""
    schema = copy.deepcopy(RemoteAction.action_response_format_spec())
    items = schema["properties"]["events"]["items"]
    kinds = items.pop("oneOf", None)
    names = [kind.get("properties", {}).get("event", {}).get("const") for kind in kinds or []]
    if not kinds or "event" not in items.get("required", ()) or None in names or len(set(names)) < len(names):
        return None
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema), {name: validator_class(kind) for name, kind in zip(names, kinds, strict=True)}


def _passes_by_kind(result: Any) -> bool:
    found = event_validators()
    if found is None:
        return False
    answer, by_name = found
    if not answer.is_valid(result):
        return False
    for event in result.get("events") or ():  # each an object with a string "event", checked above
        kind = by_name.get(event["event"])
        if kind is None or not kind.is_valid(event):
            return False
    return True


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    if _passes_by_kind(result):
        return True
    try:
        response_validator().validate(result)
        return True
    except ValidationError as error:  # the same message as Rasa's own
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise error


def _resolve_by_type(type_name: str, default: Optional[type[Event]] = None) -> Optional[type[Event]]:
    found = _event_classes.get(type_name)
    if found is None:
        found = next((cls for cls in all_subclasses(Event) if cls.type_name == type_name), None)
        if found is None:  # Rasa's own answer: None for "topic", else the default or its error
            return _rasa_resolve_by_type(type_name, default)
        _event_classes[type_name] = found
    return found


def _load_classifier(
    cls: type[LogisticRegressionClassifier], *args: Any, **kwargs: Any
) -> LogisticRegressionClassifier:
    component = _rasa_load_classifier(cls, *args, **kwargs)
    if hasattr(component.clf, "coef_"):  # trained: Rasa makes an untrained one if the model has none
        component.clf.coef_ = np.asfortranarray(component.clf.coef_)
    return component


def _one_ordered_row(matrix: Any) -> bool:
    """One row of counts, its columns strictly increasing (as CountVectorsFeaturizer leaves them):
    placed side by side, they are already the stored order of Rasa's matrix."""
    return (
        scipy.sparse.isspmatrix_coo(matrix) and matrix.shape[0] == 1 and bool(np.all(matrix.col[1:] > matrix.col[:-1]))
    )


def _create_x(self: LogisticRegressionClassifier, messages: list[Message]) -> scipy.sparse.csr_matrix:
    data, columns, row_ends = [], [], [0]
    width: Optional[int] = None
    for message in messages:
        sentence = [f.features for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        if not sentence or not all(_one_ordered_row(m) for m in sentence):
            return _rasa_create_x(self, messages)
        offset = 0
        for matrix in sentence:  # one row each, its columns in order: placed side by side
            data.append(matrix.data)
            columns.append(matrix.col + offset)
            offset += matrix.shape[1]
        if width not in (None, offset):
            return _rasa_create_x(self, messages)
        width = offset
        row_ends.append(row_ends[-1] + sum(len(m.data) for m in sentence))
    if width is None:  # no messages
        return _rasa_create_x(self, messages)
    return scipy.sparse.csr_matrix(
        (np.concatenate(data).astype(np.float64), np.concatenate(columns), np.array(row_ends)),
        shape=(len(messages), width),
    )  # floats, as Rasa's own matrix holds them


@lru_cache(maxsize=1)
def _empty_domain() -> dict[str, Any]:
    return Domain.empty().as_dict()


def _domain_is_empty(self: Domain) -> bool:
    return self.as_dict() == _empty_domain()


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(_resolve_by_type)
    LogisticRegressionClassifier.load = classmethod(_load_classifier)
    LogisticRegressionClassifier._create_X = _create_x
    Domain.is_empty = _domain_is_empty
