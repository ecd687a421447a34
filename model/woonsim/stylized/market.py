"""`HousingMarket`: the allocation engine as a Mesa model.

Seekers arrive, wait and leave at exact continuous times; vacancies arrive at exact
times and are let at once under the scenario's allocation rule. All random times are
drawn up front, vectorised, from named streams (`woonsim.streams`); the only Python loop
runs over vacancies, in time order.

Mesa's clock ticks once per time unit (`step`); each tick lets every vacancy that
arrived since the previous tick, in order and at its own exact time, so nothing is
rounded to a tick. Seekers and vacancies live in arrays (a run at regional scale has
about a million seekers; a Mesa agent object costs about 6 µs to create); `Seeker`
and `Vacancy` are Mesa agent *views* onto those arrays, made on request.
"""

from __future__ import annotations

from bisect import bisect_right

import mesa
import numpy as np
from mesa.agentset import AgentSet

from woonsim.engine.draws import UniformDraws, poisson_times
from woonsim.engine.register import SeekerRegister
from woonsim.results import RunResult
from woonsim.spec import require_kind
from woonsim.streams import as_seed_sequence, stream
from woonsim.stylized.rules import rule_from_scenario
from woonsim.stylized.scenario import StylizedScenario

__all__ = ["HousingMarket", "Seeker", "Vacancy"]


class HousingMarket(mesa.Model):
    """A social-rental market built from a scenario and a seed.

    >>> result = HousingMarket(scenario, seed=7).run()
    >>> result.summary()["groups"]["regular"]["mean_wait_housed"]
    """

    def __init__(self, scenario: StylizedScenario, seed: int | np.random.SeedSequence = 0):
        require_kind(scenario, "stylized")
        self.seed = as_seed_sequence(seed)
        super().__init__(rng=stream(self.seed, "mesa"))
        self.spec = scenario
        self.end = scenario.measure.end
        self.rule, quota_share = rule_from_scenario(scenario)

        self.register = self._draw_seekers()
        vt = self._draw_vacancy_times()
        vacancy_class = (stream(self.seed, "quota").random(len(vt)) < quota_share).astype(np.int8)
        self.vacancy_time, self.vacancy_class = vt, vacancy_class
        self.allocator = self.rule.allocator(
            self.register, vacancy_class, UniformDraws(stream(self.seed, "lottery"))
        )

        self._vt = vt.tolist()
        self._let_to = [-1] * len(vt)  # seeker row per vacancy, -1: unused (or not yet)
        self._dwelling = [-1] * len(self.register)  # vacancy per seeker row, -1: none
        self._next = 0  # vacancies before this index have been allocated
        self._views: dict[tuple[type, int], mesa.Agent] = {}

    # --- set-up: every random time, vectorised ------------------------------------------
    def _draw_seekers(self) -> SeekerRegister:
        arrival, group, deadline = [], [], []
        for gi, g in enumerate(self.spec.groups):
            t = poisson_times(stream(self.seed, f"arrivals/{g.name}"), g.rate, self.end)
            if g.patience is None:
                d = np.full(len(t), np.inf)
            else:
                d = t + stream(self.seed, f"patience/{g.name}").exponential(g.patience, len(t))
            arrival.append(t)
            deadline.append(d)
            group.append(np.full(len(t), gi, dtype=np.int16))
        arrival_all = np.concatenate(arrival)
        order = np.argsort(arrival_all, kind="stable")
        return SeekerRegister(
            group=np.concatenate(group)[order],
            arrival=arrival_all[order],
            deadline=np.concatenate(deadline)[order],
        )

    def _draw_vacancy_times(self) -> np.ndarray:
        return poisson_times(stream(self.seed, "vacancies"), self.spec.vacancies.rate, self.end)

    # --- time ------------------------------------------------------------------------
    def _let_until(self, t: float) -> None:
        """Let every vacancy with time <= t, in time order, each at its own time (a cycle
        of one vacancy each, passed to the allocator in one call)."""
        stop = bisect_right(self._vt, t, self._next)
        lettings = self.allocator.allocate_cycle(
            range(self._next, stop), 0.0, times=self._vt[self._next : stop]
        )
        let_to, dwelling = self._let_to, self._dwelling
        for v, s, _ in lettings:
            let_to[v] = s
            dwelling[s] = v
        self._next = stop

    def step(self) -> None:
        """One time unit (Mesa advances `time` first): let this unit's vacancies."""
        self._let_until(min(self.time, self.end))
        if self.time >= self.end:
            self.running = False

    def run(self) -> RunResult:
        """Run to the end of the measurement tail and return the result."""
        if self.time < self.end:
            self.run_until(self.end)
        self._let_until(self.end)
        self.running = False
        result = self.result()
        result.check_invariants()
        return result

    # --- results and views -------------------------------------------------------------
    def result(self) -> RunResult:
        """Everything recorded up to the current time (seekers still waiting are censored)."""
        now = min(self.time, self.end)
        reg = self.register
        n = int(np.searchsorted(reg.arrival, now, side="right"))
        dwelling = np.asarray(self._dwelling[:n], dtype=np.int64)
        vt = self.vacancy_time
        nv = self._next
        let_to = np.asarray(self._let_to[:nv], dtype=np.int64)
        return RunResult.from_engine(
            scenario=self.spec,
            seed=self.seed,
            now=now,
            group=reg.group[:n],
            arrival=reg.arrival[:n],
            deadline=reg.deadline[:n],
            dwelling=dwelling,
            vacancy_time=vt[:nv],
            vacancy_class=self.vacancy_class[:nv],
            let_to=let_to,
            reachable=self.rule.reachable(self.vacancy_class[:nv], len(self.spec.groups)),
            waiting_in_lists=self.count_waiting(now),
        )

    def count_waiting(self, t: float) -> int:
        """Seekers the rule's lists hold at time t (counted by the lists themselves)."""
        return sum(ch.count_waiting(t) for ch in self.allocator.channels)

    def _view(self, cls: type, row: int) -> mesa.Agent:
        key = (cls, row)
        if key not in self._views:
            self._views[key] = cls(self, row)
        return self._views[key]

    def seeker(self, row: int) -> Seeker:
        """The agent view of register row `row`."""
        return self._view(Seeker, int(row))

    def waiting_seekers(self) -> AgentSet:
        """Agent views of the seekers waiting now."""
        reg, t = self.register, self.time
        n = int(np.searchsorted(reg.arrival, t, side="right"))
        idle = np.asarray(self._dwelling[:n]) < 0
        rows = np.flatnonzero(idle & (reg.deadline[:n] > t))
        return AgentSet([self.seeker(r) for r in rows], random=self.random)

    def vacancy(self, v: int) -> Vacancy:
        """The agent view of vacancy `v` (vacancies are numbered in time order)."""
        return self._view(Vacancy, int(v))


class Seeker(mesa.Agent):
    """A household on the list; a view onto one row of the market's seeker register."""

    def __init__(self, model: HousingMarket, row: int):
        super().__init__(model)
        self.row = row

    @property
    def group(self) -> str:
        return self.model.spec.groups[int(self.model.register.group[self.row])].name

    @property
    def arrival(self) -> float:
        return float(self.model.register.arrival[self.row])

    @property
    def dwelling(self) -> int | None:
        v = self.model._dwelling[self.row]
        return None if v < 0 else v

    @property
    def status(self) -> str:
        """'registered later', 'waiting', 'housed' or 'abandoned' at the model's time."""
        m, t = self.model, self.model.time
        if self.arrival > t:
            return "registered later"
        if self.dwelling is not None and m._vt[self.dwelling] <= t:
            return "housed"
        return "abandoned" if m.register.deadline[self.row] <= t else "waiting"


class Vacancy(mesa.Agent):
    """A vacancy; a view onto one entry of the market's vacancy arrays."""

    def __init__(self, model: HousingMarket, index: int):
        super().__init__(model)
        self.index = index

    @property
    def time(self) -> float:
        return self.model._vt[self.index]

    @property
    def quota(self) -> bool:
        return bool(self.model.vacancy_class[self.index])

    @property
    def tenant(self) -> Seeker | None:
        s = self.model._let_to[self.index]
        return None if s < 0 else self.model.seeker(s)
