"""Allocation rules: which waiting seeker gets a vacancy.

A rule is an object with two methods, bound to a market once:

- ``bind(register, vacancy_flags, draw)`` builds its waiting lists;
- ``allocate(v, t)`` returns the seeker (register row) that gets vacancy ``v`` at time
  ``t``, or -1 when the vacancy stays unused.

Waiting lists never see individual arrival or departure events: a list holds its
members sorted by arrival time and, at a vacancy instant ``t``, treats as waiting every
member with ``arrival <= t < deadline`` that has not been housed. Because allocation only
happens at vacancy instants and every time is exact, this lazy view is the same as
processing each arrival and departure at its own time, at a fraction of the cost.

The stylized rules (fifo, lottery, priority, quota) are built from two list kinds
(`FifoList`, `LotteryList`). Dutch rules (urgency, labels, points, direct placement)
plug in through the same two methods.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "AllocationRule",
    "FifoList",
    "ListRule",
    "LotteryList",
    "SeekerRegister",
    "UniformDraws",
    "rule_from_scenario",
]


@dataclass
class SeekerRegister:
    """Columnar store of every seeker of a run, rows in arrival order."""

    group: np.ndarray  # int16 index into group names
    arrival: np.ndarray  # float64
    deadline: np.ndarray  # float64, arrival + patience (inf: never leaves)

    def __len__(self) -> int:
        return len(self.arrival)


class UniformDraws:
    """Uniform(0, 1) numbers from one generator, drawn in blocks (a call costs ~50 ns)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng, self._block = rng, block
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i == len(self._buf):
            self._buf, self._i = self._rng.random(self._block).tolist(), 0
        u = self._buf[self._i]
        self._i += 1
        return u


class FifoList:
    """Members served longest-waiting first (by arrival time)."""

    def __init__(self, members: np.ndarray, reg: SeekerRegister):
        self.members = members.tolist()
        self._arr = reg.arrival[members].tolist()
        self._dl = reg.deadline[members].tolist()
        self._head = 0  # members before the head have been housed or have left

    def pop(self, t: float) -> int:
        """Remove and return the longest-waiting member at time t, or -1."""
        h, arr, dl, n = self._head, self._arr, self._dl, len(self._arr)
        while h < n and arr[h] <= t:
            if dl[h] > t:
                self._head = h + 1
                return self.members[h]
            h += 1  # left the list before t
        self._head = h
        return -1

    def count_waiting(self, t: float) -> int:
        """Members waiting at time t (used by the invariant checks, not the hot path)."""
        stop = bisect_right(self._arr, t, self._head)
        return sum(1 for d in self._dl[self._head : stop] if d > t)


class LotteryList:
    """A uniformly random waiting member gets the vacancy (a fresh draw each time)."""

    def __init__(
        self,
        members: np.ndarray,
        reg: SeekerRegister,
        draw: Callable[[], float],
        deadlines: list[float],
    ):
        self.members = members.tolist()
        self._arr = reg.arrival[members].tolist()
        self._dl_of = deadlines  # deadline of every register row, shared between lists
        self._admitted = 0  # members[:admitted] have entered the pool
        self._pool: list[int] = []  # arrived, not housed; may hold members who left
        self._draw = draw

    def _admit(self, t: float) -> None:
        a = bisect_right(self._arr, t, self._admitted)
        if a > self._admitted:
            self._pool.extend(self.members[self._admitted : a])
            self._admitted = a

    def pop(self, t: float) -> int:
        """Remove and return a uniformly drawn member waiting at time t, or -1."""
        self._admit(t)
        pool, dl, draw = self._pool, self._dl_of, self._draw
        while pool:
            j = int(draw() * len(pool))
            s = pool[j]
            last = pool.pop()
            if j < len(pool):
                pool[j] = last
            if dl[s] > t:
                return s
            # s had already left the list: dropped, draw again
        return -1

    def count_waiting(self, t: float) -> int:
        self._admit(t)
        return sum(1 for s in self._pool if self._dl_of[s] > t)


class ListRule:
    """A vacancy tries an ordered sequence of waiting lists and goes to the first
    list that has somebody waiting.

    ``list_groups[k]`` are the groups of list k (a partition of the groups);
    ``routes[c]`` is the sequence of lists tried by a vacancy of class c; the class
    of vacancy v is ``vacancy_class[v]`` (all zero when there is a single class).
    """

    def __init__(
        self,
        name: str,
        order: str,
        list_groups: Sequence[Sequence[int]],
        routes: Sequence[Sequence[int]],
    ):
        self.name, self.order = name, order
        self.list_groups = [tuple(g) for g in list_groups]
        self.routes = [tuple(r) for r in routes]
        self.lists: list[FifoList | LotteryList] = []

    def bind(
        self, reg: SeekerRegister, vacancy_class: np.ndarray, draw: Callable[[], float]
    ) -> None:
        """Build the lists over the register; remember each vacancy's route."""
        n_groups = int(reg.group.max(initial=0)) + 1
        members = [
            np.flatnonzero(np.isin(np.arange(n_groups), g)[reg.group]) for g in self.list_groups
        ]
        if self.order == "fifo":
            self.lists = [FifoList(m, reg) for m in members]
        else:
            deadlines = reg.deadline.tolist()
            self.lists = [LotteryList(m, reg, draw, deadlines) for m in members]
        routes = [tuple(self.lists[k] for k in r) for r in self.routes]
        self._route_of = [routes[c] for c in vacancy_class.tolist()]
        self._vacancy_class = vacancy_class

    def allocate(self, v: int, t: float) -> int:
        for lst in self._route_of[v]:
            s = lst.pop(t)
            if s >= 0:
                return s
        return -1

    def reachable(self, n_groups: int) -> np.ndarray:
        """Boolean (n_vacancies, n_groups): the groups each vacancy may go to."""
        per_class = np.zeros((len(self.routes), n_groups), dtype=bool)
        for c, route in enumerate(self.routes):
            for k in route:
                per_class[c, list(self.list_groups[k])] = True
        return per_class[self._vacancy_class]

    def count_waiting(self, t: float) -> int:
        return sum(lst.count_waiting(t) for lst in self.lists)


AllocationRule = ListRule


def rule_from_scenario(sc) -> tuple[ListRule, float]:
    """The rule a stylized scenario asks for, and its quota share (0 without quota)."""
    names = sc.group_names
    al = sc.allocation
    every = list(range(len(names)))
    if al.rule in ("fifo", "lottery"):
        order = "lottery" if al.rule == "lottery" else "fifo"
        return ListRule(al.rule, order, [every], [[0]]), 0.0
    if al.rule == "priority":
        first = [i for i, g in enumerate(sc.groups) if g.priority]
        rest = [i for i in every if i not in first]
        return ListRule("priority", al.order, [first, rest], [[0, 1]]), 0.0
    # quota: class 0 = ordinary vacancy, class 1 = quota vacancy
    q = al.quota
    quota_groups = [names.index(g) for g in q.groups]
    others = [i for i in every if i not in quota_groups]
    routes = [[1, 0], [0, 1]] if q.unused == "pass_on" else [[1], [0]]
    return ListRule(f"quota/{q.unused}", al.order, [quota_groups, others], routes), q.share
