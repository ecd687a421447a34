"""The stylized allocation rules (fifo, lottery, priority, quota) as routes over waiting
lists: each rule is a configuration of the one allocator (`woonsim.engine.allocator`).

- fifo / lottery: one list of every group;
- priority: the priority groups' list, then the others';
- quota: a quota vacancy (probability `share`) tries the quota groups' list first, an
  ordinary vacancy the others' list first; with `unused: pass_on` each then tries the other
  list, with `lose` it stays unused.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from woonsim.engine.allocator import Allocator
from woonsim.engine.lists import FifoList, LotteryList
from woonsim.engine.register import SeekerRegister
from woonsim.stylized.scenario import StylizedScenario

__all__ = ["StylizedRule", "rule_from_scenario"]


class StylizedRule:
    """A stylized rule: which groups each list holds, and each route class's lists."""

    def __init__(self, name: str, order: str, list_groups, routes):
        self.name, self.order = name, order
        self.list_groups = [tuple(g) for g in list_groups]
        self.routes = [tuple(r) for r in routes]

    def allocator(
        self, reg: SeekerRegister, vacancy_class: np.ndarray, draw: Callable[[], float]
    ) -> Allocator:
        """The lists over the register, and the allocator that routes vacancies of class
        `vacancy_class[v]` through them."""
        n_groups = int(reg.group.max(initial=0)) + 1
        members = [
            np.flatnonzero(np.isin(np.arange(n_groups), g)[reg.group]) for g in self.list_groups
        ]
        if self.order == "fifo":
            lists = [FifoList(m, reg, f"list {k}") for k, m in enumerate(members)]
        else:
            deadlines = reg.deadline.tolist()
            lists = [
                LotteryList(m, reg, draw, deadlines, f"list {k}") for k, m in enumerate(members)
            ]
        return Allocator(lists, self.routes, vacancy_class.tolist().__getitem__)

    def reachable(self, vacancy_class: np.ndarray, n_groups: int) -> np.ndarray:
        """Boolean (n_vacancies, n_groups): the groups each vacancy may go to."""
        per_class = np.zeros((len(self.routes), n_groups), dtype=bool)
        for c, route in enumerate(self.routes):
            for k in route:
                per_class[c, list(self.list_groups[k])] = True
        return per_class[vacancy_class]


def rule_from_scenario(sc: StylizedScenario) -> tuple[StylizedRule, float]:
    """The rule a stylized scenario asks for, and its quota share (0 without quota)."""
    names = sc.group_names
    al = sc.allocation
    every = list(range(len(names)))
    if al.rule in ("fifo", "lottery"):
        order = "lottery" if al.rule == "lottery" else "fifo"
        return StylizedRule(al.rule, order, [every], [[0]]), 0.0
    if al.rule == "priority":
        first = [i for i, g in enumerate(sc.groups) if g.priority]
        rest = [i for i in every if i not in first]
        return StylizedRule("priority", al.order, [first, rest], [[0, 1]]), 0.0
    # quota: class 0 = ordinary vacancy, class 1 = quota vacancy
    q = al.quota
    quota_groups = [names.index(g) for g in q.groups]
    others = [i for i in every if i not in quota_groups]
    routes = [[1, 0], [0, 1]] if q.unused == "pass_on" else [[1], [0]]
    return StylizedRule(f"quota/{q.unused}", al.order, [quota_groups, others], routes), q.share
