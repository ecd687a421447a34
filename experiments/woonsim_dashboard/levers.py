"""The levers of the live view: each one a scenario path (`woonsim.paths`), a widget and
its range. A region shows the levers its scenario has (the own channels of studenten and
arbeidsmigranten only where those groups exist), each starting at the scenario's value.
The chosen values are set with `set_path` on the scenario's mapping and validated by
`parse_scenario`, the one place that validates scenarios."""

from __future__ import annotations

from dataclasses import dataclass

from woonsim.errors import ScenarioError
from woonsim.paths import get_path, set_path
from woonsim.scenario import parse_scenario

__all__ = ["LEVERS", "Lever", "available", "model_params", "scenario_with"]


@dataclass(frozen=True)
class Lever:
    """A lever: `name` is its keyword (of `LiveMarket` and SolaraViz's model_params)."""

    name: str
    path: str
    label: str
    widget: str  # SolaraViz input type: Select, SliderFloat or SliderInt
    values: tuple[str, ...] = ()  # Select
    lo: float = 0.0
    hi: float | str = 1.0  # a number, or the path of the scenario value that bounds it
    step: float = 0.05


def _own_channel(group: str) -> Lever:
    return Lever(
        f"{group}_own_channel",
        f"groups[{group}].own_channel_per_1000_households",
        f"{group}: own channel (dwellings/yr per 1,000 households)",
        "SliderFloat",
        hi=f"groups[{group}].inflow_per_1000_households",
        step=0.1,
    )


LEVERS: tuple[Lever, ...] = (
    Lever("quota_mode", "allocation.quota.mode", "quota: mode", "Select",
          ("none", "floor", "cap")),
    Lever("quota_share", "allocation.quota.share", "quota: share", "SliderFloat", hi=0.8),
    Lever("quota_basis", "allocation.quota.basis", "quota: share of", "Select",
          ("lettings", "vacancies")),
    Lever("quota_start", "allocation.quota.start", "quota: holds from", "Select",
          ("burn_in", "window")),
    Lever("lottery_share", "allocation.lottery_share", "lottery share of adverts",
          "SliderFloat", hi=0.5),
    Lever("urgency_approval", "allocation.urgency.approval_share",
          "urgency: share of applicants approved", "SliderFloat"),
    Lever("urgency_pre_search_weeks", "allocation.urgency.pre_search_weeks",
          "urgency: weeks of searching first", "SliderInt", hi=52, step=1),
    Lever("urgency_search_weeks", "allocation.urgency.search_weeks",
          "urgency: weeks of priority search", "SliderInt", lo=1, hi=104, step=1),
    Lever("urgency_binding_accept", "allocation.urgency.binding_accept",
          "urgency: chance of accepting the binding offer", "SliderFloat"),
    Lever("contingent_per_1000_social", "allocation.contingent_per_1000_social",
          "contingents: dwellings/yr per 1,000 corporation dwellings", "SliderFloat",
          hi=15.0, step=0.5),
    Lever("statushouder_task", "statushouders.national_per_halfyear",
          "statushouders: national task per half-year (persons)", "SliderInt",
          hi=40000, step=500),
    Lever("statushouder_matching_weeks", "statushouders.matching_weeks",
          "statushouders: weeks from linking to placement", "SliderFloat", hi=52.0, step=0.5),
    Lever("building_per_1000", "construction.per_1000_dwellings",
          "building: completions/yr per 1,000 dwellings", "SliderFloat", hi=20.0, step=0.5),
    Lever("building_social_share", "construction.social_share",
          "building: social share of completions", "SliderFloat"),
    _own_channel("studenten"),
    _own_channel("arbeidsmigranten"),
)  # fmt: skip


def _value(d: dict, path: str):
    """The scenario's value at `path`, or None where the scenario has no such place."""
    try:
        return get_path(d, path)
    except ScenarioError:  # no group or key of that name
        return None


def available(scenario) -> list[Lever]:
    """The levers a scenario has: a number or a choice at the lever's path (not a mapping
    per municipality, nor a value left unset)."""
    d = scenario.model_dump(mode="python")
    out = []
    for lever in LEVERS:
        x = _value(d, lever.path)
        ok = isinstance(x, str) if lever.widget == "Select" else isinstance(x, int | float)
        if ok and not isinstance(x, bool):
            out.append(lever)
    return out


def model_params(scenario, region: str, seed: int = 1) -> dict:
    """SolaraViz's model_params: the region (fixed), the seed and every available lever,
    starting at the scenario's values."""
    d = scenario.model_dump(mode="python")
    params: dict = {
        "region": region,
        "seed": {"type": "SliderInt", "label": "seed", "value": seed, "min": 1, "max": 99,
                 "step": 1},
    }  # fmt: skip
    for lever in available(scenario):
        x = get_path(d, lever.path)
        if lever.widget == "Select":
            values = list(lever.values) + ([x] if x not in lever.values else [])
            params[lever.name] = {"type": "Select", "label": lever.label, "value": x,
                                  "values": values}  # fmt: skip
            continue
        hi = get_path(d, lever.hi) if isinstance(lever.hi, str) else lever.hi
        cast = int if lever.widget == "SliderInt" else float
        params[lever.name] = {
            "type": lever.widget,
            "label": lever.label,
            "value": cast(x),
            "min": cast(lever.lo),
            "max": cast(max(hi, x)),
            "step": cast(lever.step),
        }
    return params


def scenario_with(scenario, values: dict):
    """`scenario` with the levers `values` (by lever name) set: a new, validated scenario
    (`ScenarioError` names the path of a bad value)."""
    by_name = {lever.name: lever for lever in LEVERS}
    d = scenario.model_dump(mode="python")
    for name, value in values.items():
        lever = by_name[name]
        if lever.widget == "SliderInt" and isinstance(get_path(d, lever.path), float):
            value = float(value)
        set_path(d, lever.path, value)
    return parse_scenario(d)
