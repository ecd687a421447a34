"""The one allocator of woonsim: it routes each vacancy through channels, first taker wins.

A **channel** is a route by which a vacancy reaches a household: a FIFO or lottery
waiting list (the stylized rules), binding urgency offers, direct placement, or adverts
(the Dutch model). Every channel implements the same protocol (`Channel`):

- ``pop(v, t)`` returns the register row of the household that takes vacancy ``v`` at
  time ``t``, or -1 when the channel has no taker for it;
- ``batched`` says whether the channel needs the whole cycle's set of vacancies before it
  can let any of them (adverts: seekers react to all of a cycle's adverts at once); such a
  channel gets ``open_cycle(vacancies, t)`` first, with the vacancies that reached it in
  their routes, in order;
- ``has_taker(v, t)`` (unbatched channels) says, without changing anything, whether the
  channel holds a household it would offer ``v`` to: the allocator checks every vacancy
  it leaves unlet against it (work conservation, an invariant of every run);
- ``candidates(vacancies, t)`` (optional, unbatched channels) says at once, for a whole
  cycle, which vacancies the channel might have a taker for: False promises that
  ``pop`` would return -1 without changing anything, for the rest of the cycle (nothing
  joins a channel while a cycle is let). The allocator does not try a channel for the
  vacancies it rules out, and they need no check against it.

A **route** is the sequence of channels a vacancy tries, by its route class (for example
ordinary against quota vacancies). The allocator lets a **cycle** of vacancies at one
time: each vacancy walks its route; the first channel with a taker lets it; a batched
channel closes a route, so the vacancies that reach it wait until every vacancy of the
cycle has tried the channels before it. A stylized vacancy, let at its own instant, is a
cycle of one vacancy; the Dutch model lets a week of vacancies per cycle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from woonsim.errors import InvariantError

__all__ = ["Allocator", "Channel"]


class Channel(Protocol):
    """The protocol every allocation channel implements."""

    name: str
    batched: bool

    def open_cycle(self, vacancies: Sequence[int], t: float) -> None:
        """Prepare a cycle (batched channels only): the vacancies that reach this channel."""

    def pop(self, v: int, t: float) -> int:
        """The household (register row) that takes vacancy `v` at `t`, or -1."""

    def has_taker(self, v: int, t: float) -> bool:
        """Whether the channel holds, at `t`, a household it would offer vacancy `v` to
        (unbatched channels; no state changes): the work-conservation invariant."""


class Allocator:
    """Routes the vacancies of a cycle through their channels; first taker wins.

    `routes[c]` lists the channel indices tried by a vacancy of route class `c`;
    `route_class(v)` gives a vacancy's class (`route_classes(vacancies)`, if given, the
    classes of a cycle's vacancies at once); `on_let(v, s, k)`, if given, is told of
    each letting at once (before the next vacancy is tried), so that a household housed
    by one channel is gone for every other.
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        routes: Sequence[Sequence[int]],
        route_class: Callable[[int], int],
        on_let: Callable[[int, int, int], None] | None = None,
        route_classes: Callable[[Sequence[int]], list[int]] | None = None,
    ):
        self.channels = list(channels)
        self.set_routes(routes)
        self.route_class = route_class
        self.route_classes = route_classes
        self.on_let = on_let

    def set_routes(self, routes: Sequence[Sequence[int]]) -> None:
        """The channels each route class tries, in order (checked)."""
        for c, route in enumerate(routes):
            if len(set(route)) != len(route):
                raise ValueError(f"route {c} tries a channel twice")
            for i, k in enumerate(route):
                if self.channels[k].batched and i != len(route) - 1:
                    raise ValueError(f"route {c}: a batched channel must close the route")
        self.routes = [tuple(r) for r in routes]
        self._steps = [tuple((k, self.channels[k]) for k in r) for r in routes]

    def allocate_cycle(
        self, vacancies: Sequence[int], t: float, times: Sequence[float] | None = None
    ) -> list[tuple[int, int, int]]:
        """Let the cycle's vacancies at time `t`, in the given order. Returns the lettings
        as (vacancy, household row, channel index), in the order they were made.

        `times` (optional, one per vacancy) lets a cycle without batched channels carry
        each vacancy's own instant: a run of stylized vacancies, each a cycle of one
        vacancy at its own time, in one call.

        Work conservation is checked on the way (`InvariantError`): a vacancy left unlet
        found no taker in any unbatched channel of its route (`Channel.has_taker`; the
        seekers of a batched channel choose whether to react, so it has no such duty)."""
        out: list[tuple[int, int, int]] = []
        batches: dict[int, list[int]] | None = None
        on_let = self.on_let
        if times is not None:
            return self._let_each_at_its_time(vacancies, times, out)
        if self.route_classes is not None:
            classes = self.route_classes(vacancies)
        else:
            classes = [self.route_class(v) for v in vacancies]
        # per channel, which vacancies it might have a taker for (None: all of them), and
        # per vacancy, whether an unbatched channel of its route might
        may_arr = [
            ch.candidates(vacancies, t) if not ch.batched and hasattr(ch, "candidates") else None
            for ch in self.channels
        ]
        may = [m if m is None else m.tolist() for m in may_arr]
        open_to = _open_to(self._steps, classes, may_arr, len(vacancies))
        # this call's routes, with each channel's bound methods looked up once
        steps = [tuple((k, ch.batched, ch.pop, may[k]) for k, ch in r) for r in self._steps]
        for i, v in enumerate(vacancies):
            for k, batched, pop, m in steps[classes[i]]:
                if batched:
                    if batches is None:
                        batches = {}
                    batches.setdefault(k, []).append((i, v))
                    break
                if m is not None and not m[i]:
                    continue
                s = pop(v, t)
                if s >= 0:
                    out.append((v, s, k))
                    if on_let is not None:
                        on_let(v, s, k)
                    break
            else:
                _check_unlet(v, t, self._steps[classes[i]], may, i)
        if batches is None:
            return out
        for k in sorted(batches):
            ch, batch = self.channels[k], batches[k]
            ch.open_cycle([v for _, v in batch], t)
            for i, v in batch:
                s = ch.pop(v, t)
                if s >= 0:
                    out.append((v, s, k))
                    if on_let is not None:
                        on_let(v, s, k)
                elif open_to[i]:
                    _check_unlet(v, t, self._steps[classes[i]], may, i)
        return out

    def _let_each_at_its_time(self, vacancies, times, out: list) -> list[tuple[int, int, int]]:
        """`allocate_cycle` for a run of cycles of one vacancy each, at its own time (the
        stylized market's hot loop: no batched channel, so no batches to collect)."""
        if any(ch.batched for r in self._steps for _, ch in r):
            raise ValueError("a cycle with per-vacancy times has no batched channel")
        route_class, on_let, append = self.route_class, self.on_let, out.append
        pops = [tuple((k, ch.pop) for k, ch in r) for r in self._steps]
        for v, tv in zip(vacancies, times, strict=True):
            for k, pop in pops[route_class(v)]:
                s = pop(v, tv)
                if s >= 0:
                    append((v, s, k))
                    if on_let is not None:
                        on_let(v, s, k)
                    break
            else:
                _check_unlet(v, tv, self._steps[route_class(v)])
        return out


def _open_to(steps, classes, may_arr, n: int) -> list[bool]:
    """Per vacancy: whether an unbatched channel of its route might have a taker for it
    (the vacancies that the work-conservation check has to look at)."""
    cls = np.asarray(classes, dtype=np.int64)
    out = np.zeros(n, dtype=bool)
    for c, route in enumerate(steps):
        mine = cls == c
        if not mine.any():
            continue
        for k, ch in route:
            if ch.batched:
                break
            out |= mine & (True if may_arr[k] is None else may_arr[k])
    return out.tolist()


def _check_unlet(v: int, t: float, route, may=None, i: int = 0) -> None:
    """Work conservation for one unlet vacancy: no unbatched channel of its route holds a
    household it would offer the vacancy to (a channel that ruled the vacancy out for
    the cycle, `may[k][i]` False, holds none)."""
    for k, ch in route:
        if ch.batched:
            return
        if may is not None and may[k] is not None and not may[k][i]:
            continue
        if ch.has_taker(v, t):
            raise InvariantError(
                f"vacancy {v} stayed unlet at t={t:.6g} while channel {ch.name!r} "
                "had a household it suits"
            )
