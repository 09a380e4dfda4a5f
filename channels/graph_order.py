"""Rasa's model graph run node by node in an order worked out once, instead of through dask.

For every message Rasa 3.6's ``DaskGraphRunner.run`` works out which nodes the targets need
(``minimal_graph_schema``, a recursive walk), builds a dask task graph from them and hands it to
dask's synchronous scheduler, which orders the tasks and runs them one by one. For the eight nodes
of our NLU graph that bookkeeping was about a quarter of the parse (cProfile of
``_parse_message_with_graph``), and the parse runs for every message a child sends.

The nodes a set of targets needs, and an order that runs each after the nodes it reads, depend
only on the graph, which does not change once the model is loaded: here they are worked out once
per set of targets and kept. Each run then calls the same ``GraphNode`` objects, with the same
inputs, as dask did: a node's output is the ``(name, value)`` pair it returned, an input is
``(name, value)``, and a need that nothing provides is passed as its name (dask's rule for a key it
does not know). Errors are Rasa's: an input named like a node to be run is refused, and a ``RuntimeError``
becomes ``GraphRunError``. Training is left to Rasa (this is installed only when a server loads
our channels). tests/test_graph_order.py compares parses and predictions with dask's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner

_rasa_run = DaskGraphRunner.run
Plan = list[tuple[str, tuple[str, ...]]]  # (node, the names of what it reads), dependencies first


def plan(schema: GraphSchema, targets: tuple[str, ...]) -> Plan:
    """The nodes ``targets`` need, each after the nodes it reads (inputs are not nodes)."""
    ordered: Plan = []
    placed: set[str] = set()

    def place(name: str, path: tuple[str, ...]) -> None:
        if name in placed or name not in schema.nodes:
            return
        if name in path:
            raise GraphRunError(f"The graph has a cycle through '{name}'.")
        needs = tuple(schema.nodes[name].needs.values())
        for need in needs:
            place(need, (*path, name))
        placed.add(name)
        ordered.append((name, needs))

    for target in targets:
        place(target, ())
    return ordered


def _run(
    self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None
) -> Dict[Text, Any]:
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plans: dict[tuple[str, ...], Plan] = self.__dict__.setdefault("_plans", {})
    steps = plans.get(run_targets)
    if steps is None:
        steps = plans[run_targets] = plan(self._graph_schema, run_targets)
    results: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and any(value == step for step, _ in steps):
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure that none of the input names "
                f"passed to the `run` method are the same as node names in the graph schema."
            )
        results[name] = (name, value)
    try:
        for name, needs in steps:
            results[name] = self._instantiated_nodes[name](*(results.get(need, need) for need in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(results.get(target, target) for target in run_targets)


def install() -> None:
    DaskGraphRunner.run = _run
