"""Waiting lists, the channels of the stylized rules: FIFO and lottery.

Waiting lists never see individual arrival or departure events: a list holds its members
sorted by arrival time and, at a vacancy instant ``t``, treats as waiting every member with
``arrival <= t < deadline`` that it has not yet let a dwelling to. Because allocation only
happens at vacancy instants and every time is exact, this lazy view is the same as
processing each arrival and departure at its own time, at a fraction of the cost.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np

from woonsim.engine.register import SeekerRegister

__all__ = ["FifoList", "LotteryList"]


class FifoList:
    """A waiting list served longest-waiting first (by arrival time); a channel."""

    batched = False

    def __init__(self, members: np.ndarray, reg: SeekerRegister, name: str = "fifo"):
        self.name = name
        self.members = members.tolist()
        self._arr = reg.arrival[members].tolist()
        self._dl = reg.deadline[members].tolist()
        self._head = 0  # members before the head have been housed or have left

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def pop(self, v: int, t: float) -> int:
        """Remove and return the longest-waiting member at time t, or -1 (any vacancy
        suits any member)."""
        h, arr, dl, n = self._head, self._arr, self._dl, len(self._arr)
        while h < n and arr[h] <= t:
            if dl[h] > t:
                self._head = h + 1
                return self.members[h]
            h += 1  # left the list before t
        self._head = h
        return -1

    def has_taker(self, v: int, t: float) -> bool:
        """A member waits at t (no state changes)."""
        arr, dl = self._arr, self._dl
        h = self._head
        while h < len(arr) and arr[h] <= t:
            if dl[h] > t:
                return True
            h += 1
        return False

    def count_waiting(self, t: float) -> int:
        """Members waiting at time t (used by the invariant checks, not the hot path)."""
        stop = bisect_right(self._arr, t, self._head)
        return sum(1 for d in self._dl[self._head : stop] if d > t)


class LotteryList:
    """A waiting list where a uniformly random waiting member gets the vacancy (a fresh
    draw each time); a channel."""

    batched = False

    def __init__(
        self,
        members: np.ndarray,
        reg: SeekerRegister,
        draw: Callable[[], float],
        deadlines: list[float],
        name: str = "lottery",
    ):
        self.name = name
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

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def pop(self, v: int, t: float) -> int:
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

    def has_taker(self, v: int, t: float) -> bool:
        """A member waits at t (no state changes)."""
        dl = self._dl_of
        if any(dl[s] > t for s in self._pool):
            return True
        new = self.members[self._admitted : bisect_right(self._arr, t, self._admitted)]
        return any(dl[s] > t for s in new)

    def count_waiting(self, t: float) -> int:
        self._admit(t)
        return sum(1 for s in self._pool if self._dl_of[s] > t)
