"""The one allocator, on hand-made channels: first taker wins, routes are tried in order,
a batched channel waits for the whole cycle, and unlet vacancies are checked for work
conservation."""

from __future__ import annotations

import numpy as np
import pytest

from woonsim import InvariantError
from woonsim.engine.allocator import Allocator


class Queue:
    """An unbatched channel holding households in order; any vacancy suits any of them."""

    batched = False

    def __init__(self, name, members):
        self.name, self.members, self.calls = name, list(members), []

    def open_cycle(self, vacancies, t):
        raise AssertionError("an unbatched channel is never opened")

    def pop(self, v, t):
        self.calls.append((v, t))
        return self.members.pop(0) if self.members else -1

    def has_taker(self, v, t):
        return bool(self.members)


class Board:
    """A batched channel: sees the whole cycle first, then lets to its reactors."""

    name, batched = "board", True

    def __init__(self, takers):
        self.takers, self.opened = dict(takers), []

    def open_cycle(self, vacancies, t):
        self.opened.append((list(vacancies), t))

    def pop(self, v, t):
        return self.takers.pop(v, -1)

    def has_taker(self, v, t):
        raise AssertionError("a batched channel has no work-conservation duty")


def test_first_taker_wins_in_route_order():
    a, b = Queue("a", [10]), Queue("b", [20, 21])
    alloc = Allocator([a, b], [[0, 1], [1, 0]], route_class=lambda v: v % 2)
    out = alloc.allocate_cycle([0, 1, 2], 1.0)
    # vacancy 0 (class 0) -> a's 10; 1 (class 1) -> b's 20; 2 (class 0): a empty -> b's 21
    assert out == [(0, 10, 0), (1, 20, 1), (2, 21, 1)]
    assert a.calls == [(0, 1.0), (2, 1.0)]


def test_batched_channel_sees_the_cycle_after_the_direct_channels():
    direct, board = Queue("direct", [7]), Board({1: 30, 2: 31})
    let = []
    alloc = Allocator(
        [direct, board], [[0, 1]], route_class=lambda v: 0, on_let=lambda v, s, k: let.append(s)
    )
    out = alloc.allocate_cycle([0, 1, 2], 2.0)
    assert out == [(0, 7, 0), (1, 30, 1), (2, 31, 1)]
    assert board.opened == [([1, 2], 2.0)]  # only what the direct channel did not let
    assert let == [7, 30, 31]  # told at once, in order


def test_per_vacancy_times_are_cycles_of_one():
    q = Queue("q", [1, 2])
    Allocator([q], [[0]], route_class=lambda v: 0).allocate_cycle([5, 6], 0.0, times=[0.5, 0.7])
    assert q.calls == [(5, 0.5), (6, 0.7)]
    with pytest.raises(ValueError, match="batched"):
        Allocator([Board({})], [[0]], lambda v: 0).allocate_cycle([1], 0.0, times=[0.1])


def test_routes_are_validated():
    with pytest.raises(ValueError, match="twice"):
        Allocator([Queue("a", [])], [[0, 0]], lambda v: 0)
    with pytest.raises(ValueError, match="close the route"):
        Allocator([Board({}), Queue("a", [])], [[0, 1]], lambda v: 0)


def test_an_unlet_vacancy_with_a_taker_is_an_invariant_error():
    class Liar(Queue):
        def pop(self, v, t):
            return -1  # has members but says it has nobody

    alloc = Allocator([Liar("liar", [3])], [[0]], lambda v: 0)
    with pytest.raises(InvariantError, match="'liar'"):
        alloc.allocate_cycle([0], 1.0)
    # an honest empty channel leaves the vacancy unlet without complaint
    assert Allocator([Queue("empty", [])], [[0]], lambda v: 0).allocate_cycle([0], 1.0) == []


class Ruling(Queue):
    """A queue that also rules out, for a whole cycle, the vacancies in `never`."""

    def __init__(self, name, members, never):
        super().__init__(name, members)
        self.never, self.checked = set(never), []

    def candidates(self, vacancies, t):
        return np.array([v not in self.never for v in vacancies])

    def has_taker(self, v, t):
        self.checked.append(v)
        return super().has_taker(v, t)


def test_a_channel_is_not_tried_for_the_vacancies_it_rules_out():
    a = Ruling("a", [10, 11], never=[0, 2])
    board = Board({0: 30})
    alloc = Allocator([a, board], [[0, 1]], route_class=lambda v: 0)
    out = alloc.allocate_cycle([0, 1, 2, 3], 1.0)
    # 0 and 2 skip a (ruled out); 1 and 3 take a's members; 0 goes to the board
    assert out == [(1, 10, 0), (3, 11, 0), (0, 30, 1)]
    assert [v for v, _ in a.calls] == [1, 3]
    # 2 stays unlet: a ruled it out, so a is not asked whether it has a taker
    assert a.checked == []


def test_a_channel_that_rules_out_nothing_is_tried_and_checked_as_before():
    a = Ruling("a", [10], never=[])
    alloc = Allocator([a, Board({})], [[0, 1]], route_class=lambda v: 0)
    assert alloc.allocate_cycle([0, 1], 1.0) == [(0, 10, 0)]
    assert [v for v, _ in a.calls] == [0, 1]
    assert a.checked == [1]  # vacancy 1, unlet, is checked against a


def test_vectorised_route_classes_give_the_same_lettings():
    def lettings(**kw):
        a, b = Queue("a", [10]), Queue("b", [20, 21])
        alloc = Allocator([a, b], [[0, 1], [1, 0]], route_class=lambda v: v % 2, **kw)
        return alloc.allocate_cycle([0, 1, 2], 1.0)

    assert lettings() == lettings(route_classes=lambda vs: [v % 2 for v in vs])
