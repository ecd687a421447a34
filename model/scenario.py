"""Scenario files: YAML in, validated pydantic objects out, one-line errors.

A scenario is data. `load_scenario(path)` reads and validates a YAML file;
`parse_scenario(mapping)` validates an already-parsed mapping. Either raises
`ScenarioError` whose message names the field and the problem on one line.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "Allocation",
    "Group",
    "Measure",
    "Quota",
    "ScenarioError",
    "StylizedScenario",
    "load_scenario",
    "parse_scenario",
]


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is one line: `field: problem`."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: identifies the scenario in outputs."""
        canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()


NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class Measure(_Strict):
    """Measurement protocol: the cohort arrives in [warmup, warmup + window]; the
    run continues for `tail` more time units so that the cohort can leave."""

    warmup: NonNegative
    window: Positive
    tail: NonNegative

    @property
    def end(self) -> float:
        return self.warmup + self.window + self.tail


class Vacancies(_Strict):
    """Vacancies arrive as a Poisson process with `rate` per time unit."""

    rate: NonNegative


class Quota(_Strict):
    """Each vacancy is a quota vacancy with probability `share`; it goes first to
    `groups`, an ordinary vacancy first to the others. `unused` says what happens when
    the first side has nobody waiting: `pass_on` to the other side, or `lose`."""

    share: Annotated[float, Field(ge=0, le=1)]
    groups: Annotated[list[str], Field(min_length=1)]
    unused: Literal["pass_on", "lose"] = "pass_on"


class Allocation(_Strict):
    """The allocation rule and the order within each list.

    A `quota` block is validated whatever the rule but only used by rule `quota`, and a
    group's `priority` flag only by rule `priority`, so that one base file can be swept
    over rules (the issue's reference example has a quota block under rule priority).
    """

    rule: Literal["fifo", "lottery", "priority", "quota"]
    order: Literal["fifo", "lottery"] = "fifo"
    quota: Quota | None = None

    @model_validator(mode="after")
    def _quota_iff_rule(self) -> Allocation:
        if self.rule == "quota" and self.quota is None:
            raise ValueError("quota: required when rule is quota")
        if self.rule == "fifo" and self.order == "lottery":
            raise ValueError("order: rule fifo serves in arrival order; use rule lottery")
        if self.rule == "lottery" and "order" in self.model_fields_set and self.order != "lottery":
            raise ValueError("order: rule lottery draws at random; use rule fifo")
        return self


class Group(_Strict):
    """A seeker group: Poisson arrivals at `rate`; `patience` is the mean of an
    exponential patience time (None: never leaves the list)."""

    name: Annotated[str, Field(min_length=1)]
    rate: NonNegative
    patience: Positive | None = None
    priority: bool = False


class StylizedScenario(_Strict):
    """The stylized market of the validation reference (cases V1-V5)."""

    kind: Literal["stylized"]
    name: Annotated[str, Field(min_length=1)]
    time_unit: Annotated[str, Field(min_length=1)]
    measure: Measure
    vacancies: Vacancies
    allocation: Allocation
    groups: Annotated[list[Group], Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> StylizedScenario:
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
                    raise ValueError(f"allocation.quota.groups[{i}]: unknown group {g!r}")
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


Scenario = StylizedScenario


# --- YAML with a friendlier float syntax -----------------------------------------------
class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `1e5` and `2E-3` as floats (YAML 1.1 wants `1.0e5`)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union", "literal")):
            continue
        else:
            out += ("." if out else "") + str(part)
    return out or "scenario"


def _one_line(err: ValidationError) -> str:
    e = err.errors(include_url=False)[0]
    loc = _loc(tuple(e["loc"]))
    msg = e["msg"]
    if e["type"] == "value_error":
        # Our validators say "field: problem" relative to the model that raised it.
        msg = msg.removeprefix("Value error, ")
        return msg if loc == "scenario" else f"{loc}.{msg}"
    if e["type"] == "extra_forbidden":
        return f"{loc}: unknown key"
    if e["type"] in ("too_short", "too_long"):
        ctx = e["ctx"]
        bound = (
            f"at least {ctx['min_length']}"
            if e["type"] == "too_short"
            else f"at most {ctx['max_length']}"
        )
        return f"{loc}: needs {bound} item(s), got {ctx.get('actual_length', 0)}"
    if e["type"] == "missing":
        return f"{loc}: required key is missing"
    got = e.get("input")
    shown = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{loc}: {msg[0].lower()}{msg[1:]}{shown}"


def parse_scenario(data: Any):
    """Validate a parsed mapping; raise `ScenarioError` with a one-line message."""
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario: expected a mapping of keys, got {type(data).__name__}")
    kind = data.get("kind")
    if kind is None:
        raise ScenarioError("kind: required key is missing (expected 'stylized' or 'region')")
    if kind not in ("stylized", "region"):
        raise ScenarioError(
            f"kind: unknown scenario kind {kind!r} (expected 'stylized' or 'region')"
        )
    if kind == "region":
        from .region_scenario import RegionScenario as cls
    else:
        cls = StylizedScenario
    try:
        scenario = cls.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_one_line(err)) from None
    if kind == "region":
        from .data import region

        try:
            region(scenario.municipalities)
        except KeyError as err:
            raise ScenarioError(f"municipalities: {err.args[0]}") from None
    return scenario


def load_scenario(path: str | Path):
    """Read and validate a scenario YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a YAML file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(f"{path}: cannot read file ({err.__class__.__name__})") from None
    try:
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or "malformed YAML"
        raise ScenarioError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_scenario(data)
