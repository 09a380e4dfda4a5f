"""Small-cell suppression: no published figure may reveal a count from 1 to 4, even by subtraction.

A count under 5 can point at one child ("one 13-year-old in this town on SMS spoke of self-harm").
So every cell from 1 to 4 is suppressed (primary suppression). A published total would give it back
(total minus the shown cells), so in each group with a published total more cells are suppressed,
smallest first, until at least two are and their sum is at least 5 and greater than their number:
then each suppressed cell could be anything from 1 to sum - (k - 1), at least two values
(complementary suppression). If even suppressing every cell is not enough, the total is suppressed.

Tables are also linked: a helpline's tickets closed by outcome, broken down by language and need,
cannot add up to more than the tickets it opened, and its expired tickets no more than its
abandoned ones. Such bounds can pin a cell the group rule left open, so an audit then computes, by
linear programming over everything published, the smallest and largest value each suppressed cell
or total could have, and suppresses one more cell wherever only one whole number fits; until none does.
Zeros are published as zeros, so a reader knows a suppressed cell is at least 1: the audit assumes it too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Optional

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

THRESHOLD = 5  # counts from 1 to THRESHOLD - 1 are never shown
RULE = (
    "counts from 1 to 4 are suppressed; in each group with a published total, further cells are suppressed, "
    "smallest first, until at least two are and their sum is at least 5 and more than their number; figures "
    "that bound each other (tickets closed <= tickets opened, expired <= abandoned) are then checked so that "
    "no suppressed count has only one possible value; zeros are shown"
)
Key = Hashable
_SOLUTIONS_KEPT = 32  # solutions the audit remembers: enough to skip most solver calls, cheap to carry


@dataclass(frozen=True)
class Group:
    """Cells whose sum is published as ``total`` (unless the total itself is suppressed)."""

    total: Key
    cells: tuple[Key, ...]


@dataclass(frozen=True)
class Bound:
    """What a reader knows from how things happen: sum(lower) <= sum(upper)."""

    lower: tuple[Key, ...]
    upper: tuple[Key, ...]


@dataclass
class Table:
    values: dict[Key, int]  # every cell, zeros included where they are published
    groups: list[Group] = field(default_factory=list)
    bounds: list[Bound] = field(default_factory=list)

    def total(self, group: Group) -> int:
        return sum(self.values[cell] for cell in group.cells)


def suppress(table: Table) -> set[Key]:
    """The cells and totals to publish as suppressed."""
    hidden = {key for key, value in table.values.items() if 0 < value < THRESHOLD}
    hidden |= {group.total for group in table.groups if 0 < table.total(group) < THRESHOLD}
    for group in table.groups:
        _complete(table, group, hidden)
    if any(cell in hidden for bound in table.bounds for cell in (*bound.lower, *bound.upper)):
        _audit(table, hidden)  # else the group rule is enough: each group's suppressed cells keep a range
    return hidden


def safe(values: list[int]) -> bool:
    """Suppressed cells of one group whose sum alone gives none of them away."""
    return len(values) >= 2 and sum(values) >= THRESHOLD and sum(values) > len(values)


def _complete(table: Table, group: Group, hidden: set[Key]) -> None:
    """Complementary suppression within one group whose total is published."""
    if group.total in hidden or not any(cell in hidden for cell in group.cells):
        return
    shown = sorted(
        (cell for cell in group.cells if cell not in hidden and table.values[cell] > 0),
        key=lambda cell: (table.values[cell], str(cell)),
    )
    while not safe([table.values[cell] for cell in group.cells if cell in hidden]):
        if not shown:  # every cell suppressed and still pinned (all ones): the total goes too
            hidden.add(group.total)
            return
        hidden.add(shown.pop(0))


# -- the audit --------------------------------------------------------------------------------


def _audit(table: Table, hidden: set[Key]) -> None:
    """Suppress more until no suppressed cell or total is pinned by everything published.

    Suppressing more only ever widens what a reader can infer, so a figure found free stays free
    and is not checked again, and the solutions seen so far stay solutions (a newly suppressed cell
    takes its true value in them)."""
    free: set[Key] = set()
    found: list[dict[Key, float]] = []
    for _ in range(len(table.values) + len(table.groups) + 1):  # each round suppresses one more
        system = _System(table, hidden, found)
        pinned = None
        for target in sorted(hidden - free, key=str):
            if system.pinned(_cells_of(table, target)):
                pinned = target
                break
            free.add(target)
        found = system.solutions()[-_SOLUTIONS_KEPT:]
        if pinned is None:
            return
        _widen(table, pinned, hidden, found)
    hidden |= _everything(table)  # never expected: rounds ran out, so nothing of this table is shown


def _cells_of(table: Table, target: Key) -> tuple[Key, ...]:
    """What the target adds up: itself for a cell, its group's cells for a total."""
    if target in table.values:
        return (target,)
    return next(group.cells for group in table.groups if group.total == target)


class _System:
    """What a reader can write down: one unknown (>= 1) per suppressed cell, an equation per
    published total, an inequality per bound."""

    def __init__(self, table: Table, hidden: set[Key], found: list[dict[Key, float]]) -> None:
        self.unknowns = sorted((key for key in table.values if key in hidden), key=str)
        self._index = {key: i for i, key in enumerate(self.unknowns)}
        self._equal: list[tuple[npt.NDArray[np.float64], float]] = []
        self._below: list[tuple[npt.NDArray[np.float64], float]] = []
        for group in table.groups:
            if group.total not in hidden:
                row, known = self._row(table, group.cells, ())
                self._equal.append((row, table.total(group) - known))
        for bound in table.bounds:
            row, known = self._row(table, bound.lower, bound.upper)
            if row.any():
                self._below.append((row, -known))
        self._a_eq, self._b_eq = _matrix(self._equal)
        self._a_ub, self._b_ub = _matrix(self._below)
        truth = {key: float(table.values[key]) for key in self.unknowns}  # always a solution
        self._found = [
            np.array([(solution.get(key, truth[key])) for key in self.unknowns]) for solution in [truth, *found]
        ]

    def solutions(self) -> list[dict[Key, float]]:
        return [dict(zip(self.unknowns, found, strict=False)) for found in self._found[1:]]

    def _row(self, table: Table, plus: Iterable[Key], minus: Iterable[Key]) -> tuple[npt.NDArray[np.float64], float]:
        """Coefficients of the unknowns in sum(plus) - sum(minus), and the part already known."""
        row, known = np.zeros(len(self.unknowns)), 0.0
        for sign, keys in ((1, plus), (-1, minus)):
            for key in keys:
                if key in self._index:
                    row[self._index[key]] += sign
                else:
                    known += sign * table.values[key]
        return row, known

    def pinned(self, cells: tuple[Key, ...]) -> bool:
        """True when only one whole number fits (the true values always fit: the figures agree)."""
        objective = np.zeros(len(self.unknowns))
        for cell in cells:
            if cell in self._index:  # a shown cell of a total only shifts its range by a whole number
                objective[self._index[cell]] += 1
        if _spans_two_integers([float(objective @ found) for found in self._found]):
            return False  # two solutions already seen differ: no need to ask the solver
        low, high = self._lowest(objective), self._lowest(-objective)
        if low is None or high is None:  # unbounded: a reader cannot pin it
            return False
        return not _spans_two_integers([low, -high])

    def _lowest(self, objective: npt.NDArray[np.float64]) -> Optional[float]:
        """The minimum of objective . unknowns; None when unbounded. Keeps the solution it finds."""
        answer = linprog(
            objective,
            A_ub=self._a_ub,
            b_ub=self._b_ub,
            A_eq=self._a_eq,
            b_eq=self._b_eq,
            bounds=(1, None),
            method="highs",
        )
        if answer.status != 0:
            return None
        self._found.append(answer.x)
        return float(answer.fun)


def _spans_two_integers(values: list[float]) -> bool:
    return bool(values) and math.floor(max(values) + 1e-6) - math.ceil(min(values) - 1e-6) >= 1


def _matrix(
    rows: list[tuple[npt.NDArray[np.float64], float]],
) -> tuple[Optional[npt.NDArray[np.float64]], Optional[npt.NDArray[np.float64]]]:
    return (np.array([r for r, _ in rows]), np.array([b for _, b in rows])) if rows else (None, None)


def _widen(table: Table, target: Key, hidden: set[Key], found: list[dict[Key, float]]) -> None:
    """Suppress one more figure near a pinned one: the first that frees it, trying the shown cells
    of the bounds it is in (smallest first), the totals of the other groups in those bounds, the
    shown cells of its own group, then its group's total. If none frees it alone, the first of
    them (the next round adds more); with none left, everything."""
    cells = set(_cells_of(table, target))
    own = next((g for g in table.groups if g.total == target or target in g.cells), None)
    bound = {key for b in table.bounds if cells & {*b.lower, *b.upper} for key in (*b.lower, *b.upper)}
    others = [g.total for g in table.groups if g is not own and bound & set(g.cells)]

    def shown(keys: Iterable[Key]) -> list[Key]:
        return sorted(
            (k for k in keys if k not in hidden and table.values[k] > 0), key=lambda k: (table.values[k], str(k))
        )

    candidates = shown(bound) + [t for t in others if t not in hidden] + shown(set(own.cells) - bound if own else ())
    if own and own.total not in hidden:
        candidates.append(own.total)
    if not candidates:
        hidden |= _everything(table)
        return
    hidden.add(
        next((c for c in candidates if not _System(table, hidden | {c}, found).pinned(tuple(cells))), candidates[0])
    )


def _everything(table: Table) -> set[Key]:
    return {key for key, value in table.values.items() if value > 0} | {g.total for g in table.groups}
