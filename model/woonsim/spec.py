"""The base of every specification (scenario, experiment, national and calibration files):
strict, frozen pydantic models with a digest, and pydantic errors as one line."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from woonsim.errors import ScenarioError

__all__ = [
    "MAX_TIME",
    "MAX_YEARS",
    "Horizon",
    "Measure",
    "NonNegative",
    "Positive",
    "Spec",
    "bounded",
    "one_line",
    "require_kind",
]

# Bounds of the numbers a user types (docs: README "Bounds"). A run's size is bounded
# separately, by its estimate (`woonsim.size`).
MAX_YEARS = 300.0  # burn-in years, reported years: each at most this
MAX_TIME = 1e6  # a stylized run's time units: warmup + window + tail at most this
MAX_RATE = 1e7  # a stylized rate, per time unit
MIN_WINDOW = 1e-6  # a cohort window shorter than this vanishes beside the warmup


def bounded(low: float, high: float, description: str, *, open_low: bool = False):
    """A float within [low, high] ((low, high] with `open_low`), documented."""
    lo = {"gt": low} if open_low else {"ge": low}
    return Annotated[float, Field(le=high, description=description, **lo)]


class Spec(BaseModel):
    """Strict (no coercion, no unknown keys, no infinite or NaN numbers) and frozen."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: identifies the scenario in outputs."""
        canon = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canon.encode()).hexdigest()


NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


class Measure(Spec):
    """Measurement protocol: the cohort arrives in [warmup, warmup + window]; the
    run continues for `tail` more time units so that the cohort can leave."""

    # cohort arrivals start at this time
    warmup: bounded(0, MAX_TIME, "time before the cohort window")
    # cohort arrivals end after this long
    window: bounded(MIN_WINDOW, MAX_TIME, "the cohort window (arrivals measured)")
    # time after the window in which the cohort can leave
    tail: bounded(0, MAX_TIME, "time after the window for the cohort to leave")

    @property
    def end(self) -> float:
        return self.warmup + self.window + self.tail


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


def one_line(err: ValidationError) -> str:
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


class Horizon(Spec):
    """Override of a region scenario's burn-in and reported years (experiment,
    calibration and national files), with the scenario's bounds."""

    # burn-in years; null: the base scenario's
    burn_in_years: bounded(0, MAX_YEARS, "years before the reported window") | None = None
    # reported years; null: the base scenario's
    years: bounded(0, MAX_YEARS, "reported years", open_low=True) | None = None


# which Mesa model runs which scenario kind
MODEL_OF_KIND = {"stylized": "HousingMarket", "region": "RegionalMarket"}


def require_kind(scenario, kind: str) -> None:
    """A one-line `ScenarioError` when a model is given a scenario of another kind."""
    got = getattr(scenario, "kind", None)
    if got != kind:
        other = MODEL_OF_KIND.get(got, "the model of that kind")
        raise ScenarioError(
            f"kind: {MODEL_OF_KIND[kind]} runs {kind} scenarios, not {got!r}; use"
            f" woonsim.market_for(scenario, seed) or {other}"
        )
