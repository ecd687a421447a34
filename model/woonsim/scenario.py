"""Scenario files: YAML in, validated pydantic objects out, one-line errors.

A scenario is data. `load_scenario(path)` reads and validates a YAML file;
`parse_scenario(mapping)` validates an already-parsed mapping. Either raises
`ScenarioError` whose message names the field and the problem on one line. The kind
(`stylized` or `region`) chooses the specification class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from woonsim.errors import ScenarioError
from woonsim.region.scenario import RegionScenario
from woonsim.size import check_size
from woonsim.spec import one_line
from woonsim.stylized.scenario import StylizedScenario
from woonsim.yaml_loader import read_yaml

__all__ = ["RegionScenario", "ScenarioError", "StylizedScenario", "load_scenario", "parse_scenario"]


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
    cls = RegionScenario if kind == "region" else StylizedScenario
    try:
        scenario = cls.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(one_line(err) + _code_hint(err)) from None
    if kind == "region":
        from woonsim.data import municipality_counts  # pandas: only once a region needs it

        known = municipality_counts()
        unknown = [c for c in scenario.municipalities if c not in known]
        if unknown:
            from woonsim.data import WHERE_CODES, near_municipalities

            near = near_municipalities(str(unknown[0]))
            hint = f" (did you mean {' or '.join(near)}?)" if near else ""
            raise ScenarioError(
                f"municipalities: unknown municipality code(s): {', '.join(unknown)}{hint}; "
                f"{WHERE_CODES}"
            )
    check_size(scenario)  # a run that would not fit in memory is refused now
    return scenario


def _code_hint(err: ValidationError) -> str:
    """Where to find municipality codes, when a name or a malformed code was given."""
    e = err.errors(include_url=False)[0]
    if e["type"] != "string_pattern_mismatch" or "GM" not in str(e["ctx"].get("pattern")):
        return ""
    from woonsim.data import WHERE_CODES, near_municipalities

    near = near_municipalities(str(e["input"]))
    return f"; a CBS code GMxxxx{', perhaps ' + ' or '.join(near) if near else ''}. {WHERE_CODES}"


def load_scenario(path: str | Path):
    """Read and validate a scenario YAML file."""
    return parse_scenario(read_yaml(path))
