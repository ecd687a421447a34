"""The stylized scenario (kind `stylized`): the market of the validation reference."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from woonsim.spec import MAX_RATE, MAX_TIME, Measure, Spec, bounded

__all__ = ["Allocation", "Group", "Quota", "StylizedScenario", "Vacancies"]


class Vacancies(Spec):
    """Vacancies arrive as a Poisson process with `rate` per time unit."""

    rate: bounded(0, MAX_RATE, "vacancies per time unit")  # vacancies per time unit (Poisson)


class Quota(Spec):
    """Each vacancy is a quota vacancy with probability `share`; it goes first to
    `groups`, an ordinary vacancy first to the others. `unused` says what happens when
    the first side has nobody waiting: `pass_on` to the other side, or `lose`."""

    share: Annotated[float, Field(ge=0, le=1)]  # P(a vacancy is a quota vacancy)
    groups: Annotated[list[str], Field(min_length=1)]  # the quota groups, by name
    unused: Literal["pass_on", "lose"] = "pass_on"  # pass_on: to the other side; lose: left unused


class Allocation(Spec):
    """The allocation rule and the order within each list.

    A `quota` block is validated whatever the rule but only used by rule `quota`, and a
    group's `priority` flag only by rule `priority`, so that one base file can be swept
    over rules (the issue's reference example has a quota block under rule priority).
    """

    rule: Literal["fifo", "lottery", "priority", "quota"]  # fifo, lottery, priority or quota
    order: Literal["fifo", "lottery"] = "fifo"  # order within a list
    quota: Quota | None = None  # required by rule quota

    @model_validator(mode="after")
    def _quota_iff_rule(self) -> Allocation:
        if self.rule == "quota" and self.quota is None:
            raise ValueError("quota: required when rule is quota")
        if self.rule == "fifo" and self.order == "lottery":
            raise ValueError("order: rule fifo serves in arrival order; use rule lottery")
        if self.rule == "lottery" and "order" in self.model_fields_set and self.order != "lottery":
            raise ValueError("order: rule lottery draws at random; use rule fifo")
        return self


class Group(Spec):
    """A seeker group: Poisson arrivals at `rate`; `patience` is the mean of an
    exponential patience time (None: never leaves the list)."""

    name: Annotated[str, Field(min_length=1, max_length=100)]  # the group's name
    rate: bounded(0, MAX_RATE, "arrivals per time unit")  # arrivals per time unit (Poisson)
    # mean of an exponential patience; null: never leaves
    patience: bounded(0, MAX_TIME, "mean patience, time units", open_low=True) | None = None
    priority: bool = False  # served first under rule priority


class StylizedScenario(Spec):
    """The stylized market of the validation reference (cases V1-V5)."""

    kind: Literal["stylized"]  # the scenario kind: `stylized`
    name: Annotated[str, Field(min_length=1, max_length=200)]  # a label, written into every output
    # a label; every rate is per this unit
    time_unit: Annotated[str, Field(min_length=1, max_length=50)]
    measure: Measure  # the measured cohort
    vacancies: Vacancies  # the vacancy process
    allocation: Allocation  # the allocation rule
    groups: Annotated[list[Group], Field(min_length=1, max_length=100)]  # the seeker groups

    @model_validator(mode="after")
    def _consistent(self) -> StylizedScenario:
        if self.measure.end > MAX_TIME:
            raise ValueError(
                f"measure: warmup + window + tail must be at most {MAX_TIME:.0e} time units "
                f"(the clock ticks once per unit), not {self.measure.end:g}"
            )
        names = [g.name for g in self.groups]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ValueError(f"groups[{i}].name: duplicate group name {name!r}")
        flagged = [i for i, g in enumerate(self.groups) if g.priority]
        if self.allocation.rule == "priority" and not flagged:
            raise ValueError(
                "allocation.rule: priority needs at least one group with priority: true"
            )
        quota = self.allocation.quota
        if quota is not None:
            for i, g in enumerate(quota.groups):
                if g not in names:
                    raise ValueError(
                        f"allocation.quota.groups[{i}]: unknown group {g!r} "
                        f"(the groups: {', '.join(names)})"
                    )
                if g in quota.groups[:i]:
                    raise ValueError(f"allocation.quota.groups[{i}]: group {g!r} listed twice")
        return self

    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self.groups]

    @property
    def cohort_measure(self) -> Measure:
        return self.measure

    @property
    def rule_label(self) -> str:
        return self.allocation.rule
