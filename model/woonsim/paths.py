"""The path language: one way to name a value in a scenario, used by experiment variants
and levers, uncertainties, calibration parameters, national default overrides and EMA
levers and uncertainties.

A path is a dotted sequence of keys: ``flows.departure_rate``,
``allocation.quota.share``. A group is selected by name, ``groups[starters].accept``, and
several groups that share one value by ``groups[starters|doorstromers].patience_years``.
A path that names nothing is a one-line `ScenarioError` naming the path.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic import BaseModel

from woonsim.errors import ScenarioError

__all__ = ["get_path", "locate", "set_path"]

_GROUPS = re.compile(r"^groups\[([^\]]+)\]$")


def _child(obj, key: str):
    return getattr(obj, key, None) if isinstance(obj, BaseModel) else None


def locate(d: dict, path: str, obj=None) -> list[tuple[dict, str, Any, str]]:
    """Where `path` points in the scenario mapping `d` (dumped from model `obj`, if
    given): per place, the mapping, the key, the model value there (or None) and the
    location as the scenario's error messages spell it (``groups[0].accept``)."""
    *parts, key = path.split(".")
    nodes = [(d, obj, "")]
    for part in parts:
        m = _GROUPS.match(part)
        if m:
            found = []
            for name in m.group(1).split("|"):
                hits = [
                    (
                        g,
                        next((x for x in _child(o, "groups") or [] if x.name == name), None),
                        f"{loc}{'.' if loc else ''}groups[{i}]",
                    )
                    for n, o, loc in nodes
                    for i, g in enumerate(n.get("groups") or [])
                    if isinstance(g, dict) and g.get("name") == name
                ]
                if not hits:
                    known = [g.get("name") for n, _, _ in nodes for g in n.get("groups") or []]
                    raise ScenarioError(
                        f"{path}: no group named {name!r} (the groups: "
                        f"{', '.join(map(str, dict.fromkeys(known)))})"
                    )
                found += hits
            nodes = found
        elif all(isinstance(n.get(part), dict) for n, _, _ in nodes):
            nodes = [
                (n[part], _child(o, part), f"{loc}{'.' if loc else ''}{part}")
                for n, o, loc in nodes
            ]
        else:
            raise ScenarioError(f"{path}: no such section {part!r}")
    if not key or any(key not in n for n, _, _ in nodes):
        raise ScenarioError(f"{path}: no such parameter {key!r}")
    return [(n, key, _child(o, key), f"{loc}{'.' if loc else ''}{key}") for n, o, loc in nodes]


def get_path(d: dict, path: str) -> Any:
    """The value at `path` (the first place, when it names several groups)."""
    node, key, *_ = locate(d, path)[0]
    return node[key]


def _merge(section, old: dict, new: dict) -> dict:
    """`new` over `old`, recursing into the scenario's sub-sections."""
    out = dict(old)
    for k, v in new.items():
        sub = _child(section, k)
        if isinstance(v, dict) and isinstance(old.get(k), dict) and isinstance(sub, BaseModel):
            out[k] = _merge(sub, old[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def set_path(d: dict, path: str, value: Any, obj=None) -> list[str]:
    """Set `path` to `value` in the mapping `d` (a mapping value is merged into a
    sub-section of model `obj`); returns the locations it set."""
    places = locate(d, path, obj)
    for node, key, section, _ in places:
        if (
            isinstance(value, dict)
            and isinstance(node[key], dict)
            and isinstance(section, BaseModel)
        ):
            node[key] = _merge(section, node[key], value)
        else:
            node[key] = copy.deepcopy(value)
    return [loc for *_, loc in places]
