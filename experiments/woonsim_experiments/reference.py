"""The reference of every input file (docs/scenario_reference.md), generated from the
pydantic models that validate them, so it cannot drift from the code:
`python -m woonsim_experiments.reference > docs/scenario_reference.md`; a test checks
that the file is current.

Type, default and bounds come from each field's annotation; the description is the
field's comment in the source (the comment at the end of its line, or the comment lines
just above it). A field without a comment fails the test.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from typing import Any, Literal

import yaml
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from woonsim.region.scenario import RegionScenario
from woonsim.stylized.scenario import StylizedScenario
from woonsim_experiments.calibrate import CalibrationSpec
from woonsim_experiments.experiment import ExperimentSpec
from woonsim_experiments.national import NationalScenario

__all__ = ["FILES", "describe", "field_comment", "models"]

# (title, anchor, top-level model, what the file is, an example that the docs test validates)
FILES = [
    (
        "Region scenario (`kind: region`)",
        "region-scenario",
        RegionScenario,
        "The Dutch model: a woningmarktregio, its municipalities, behaviour and policy "
        "levers. `woonsim run FILE`. Shipped: `experiments/scenarios/haaglanden.yaml` "
        "(every key commented with its source), `amsterdam.yaml`, `twente.yaml`. Municipality "
        "codes: `woonsim municipalities` lists them with their names.",
        "kind: region\nname: Delft and Rijswijk, current practice\n"
        "municipalities: [GM0503, GM0603]\nburn_in_years: 55\nyears: 10\n"
        "groups:\n  - {name: starters, kind: regular, inflow_per_1000_households: 26.4}\n"
        "  - {name: urgent, kind: urgent, aandachtsgroep: true, inflow_per_1000_households: 4}\n",
    ),
    (
        "Stylized scenario (`kind: stylized`)",
        "stylized-scenario",
        StylizedScenario,
        "The market of the validation reference (`woonsim validate`): Poisson arrivals and "
        "vacancies, one rule. `experiments/woonsim_experiments/validation_cases/` has an "
        "example of every rule.",
        "kind: stylized\nname: two groups, 30% quota\ntime_unit: year\n"
        "measure: {warmup: 5, window: 20, tail: 10}\nvacancies: {rate: 100}\n"
        "allocation: {rule: quota, quota: {share: 0.3, groups: [urgent]}}\n"
        "groups:\n  - {name: urgent, rate: 30, patience: 4}\n"
        "  - {name: regular, rate: 90, patience: 4}\n",
    ),
    (
        "Experiment file",
        "experiment-file",
        ExperimentSpec,
        "Policy variants of one base scenario (region or national), replicated with common "
        "random numbers: `woonsim experiment FILE`. Shipped: "
        "`experiments/quota_haaglanden.yaml`, `experiments/norm_nederland.yaml`. A variant "
        "sets scenario values by path (see *Paths* below).",
        "name: 30% norm, Haaglanden\nbase: scenarios/haaglanden.yaml\n"
        "horizon: {years: 10}\nreplications: 4\nroot_seed: 1\nbaseline: current practice\n"
        "variants:\n  - {name: current practice, set: {}}\n"
        "  - {name: 30% norm, set: {allocation.quota: {share: 0.3, mode: floor, "
        "basis: lettings}}}\n"
        "  - {name: patient starters, set: {'groups[starters].patience_years': 4.0}}\n",
    ),
    (
        "National scenario (`kind: national`)",
        "national-scenario",
        NationalScenario,
        "Every municipality in a regional market: `woonsim national FILE`, or the `base` "
        "of an experiment. Shipped: `experiments/scenarios/national.yaml`.",
        "kind: national\nname: Nederland, current practice\ndefaults: haaglanden.yaml\n"
        "calibrated: {haaglanden: haaglanden.yaml}\n"
        "default_overrides: {flows.departure_rate: 0.0597}\nyears: 10\n",
    ),
    (
        "Calibration spec",
        "calibration-spec",
        CalibrationSpec,
        "What `woonsim calibrate FILE` fits: parameters of a region scenario, by path, to "
        "the region's targets in `calibration_data/targets.csv`. Shipped: "
        "`experiments/calibration/*.yaml`.",
        "scenario: ../scenarios/haaglanden.yaml\nregion: haaglanden\n"
        "horizon: {burn_in_years: 35, years: 4}\nparameters:\n"
        "  - {path: flows.departure_rate, low: 0.01, high: 0.07}\n"
        '  - {path: "groups[starters].reservation", low: 0, high: 6}\n',
    ),
]

PATHS = """\
## Paths

Experiment variants (`set`), levers and uncertainties, calibration parameters and the
national scenario's `default_overrides` name a scenario value by path:

- `allocation.quota.share`: keys joined by dots;
- `groups[starters].accept`: a group by its name;
- `groups[starters|doorstromers].patience_years`: several groups set to one value.

A path with `[` must be **quoted** inside a YAML flow mapping `{...}`, where YAML reads
`[` as the start of a list: write `{'groups[starters].accept': 0.5}`, not
`{groups[starters].accept: 0.5}` (a YAML error). In block style (`key: value` on its own
line) no quotes are needed. A value given as a mapping for a section
(`allocation.quota: {share: 0.3, mode: floor}`) updates the keys it names and keeps the
base scenario's other keys.
"""


def models(root: type[BaseModel]) -> list[type[BaseModel]]:
    """The model and every model its fields use, in order of first use."""
    out: list[type[BaseModel]] = []

    def visit(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp not in out:
                out.append(tp)
                for f in tp.model_fields.values():
                    visit(f.annotation)
            return
        for arg in typing.get_args(tp):
            visit(arg)

    visit(root)
    return out


def _lines(cls: type) -> list[str]:
    return inspect.getsource(cls).splitlines()


def field_comment(cls: type[BaseModel], name: str) -> str:
    """The comment that documents field `name` of `cls` in the source ("" if none)."""
    lines = _lines(cls)
    pattern = re.compile(rf"^\s+{re.escape(name)}\s*:")
    for i, line in enumerate(lines):
        if not pattern.match(line):
            continue
        above = []
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("#"):
            above.insert(0, lines[j].strip().lstrip("#").strip())
            j -= 1
        trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
        return " ".join(p for p in (" ".join(above), trailing) if p)
    return ""


def _bounds(meta: list, text: bool = False) -> list[str]:
    out = []
    for m in meta:
        for attr, word in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                out.append(f"{word} {getattr(m, attr):g}")
        unit = "characters" if text else "item(s)"
        if text and getattr(m, "min_length", None) == 1:
            out.append("not empty")
        elif getattr(m, "min_length", None) is not None:
            out.append(f"at least {m.min_length} {unit}")
        if getattr(m, "max_length", None) is not None:
            out.append(f"at most {m.max_length:,} {unit}")
        if getattr(m, "pattern", None):
            out.append("a CBS code GMxxxx" if "GM" in m.pattern else f"matches `{m.pattern}`")
    return out


def _type(tp: Any, meta: list | None = None) -> str:
    """A reader's name for an annotation, with its bounds."""
    bounds = _bounds(meta or [], text=tp is str)
    if tp is str and "a CBS code GMxxxx" in bounds:
        return "CBS code (GMxxxx)"
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(tp)
        inner = [m for e in extra for m in getattr(e, "metadata", [e])]
        return _type(base, inner + (meta or []))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        text = " or ".join(_type(a) for a in args)
    elif origin is Literal:
        text = "one of " + ", ".join(f"`{a}`" for a in typing.get_args(tp))
    elif origin is list:
        (arg,) = typing.get_args(tp)
        text = f"list of {_type(arg)}"
    elif origin is dict:
        k, v = typing.get_args(tp)
        text = f"mapping of {_type(k)} to {_type(v)}"
    elif tp is type(None):
        text = "`null`"
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        text = f"[{tp.__name__}](#{_anchor(tp)})"
    else:
        text = {float: "number", int: "integer", str: "text", bool: "`true`/`false`"}.get(
            tp, "any value"
        )
    return f"{text} ({', '.join(bounds)})" if bounds else text


def _anchor(cls: type) -> str:
    """Unique per model: region and stylized scenarios both have a `Quota`."""
    module = cls.__module__.removeprefix("woonsim.").removeprefix("woonsim_experiments.")
    return f"{module}.{cls.__name__}".replace(".", "-").replace("_", "-").lower()


def _default(field) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory else field.default
    if isinstance(value, BaseModel):
        return "its defaults"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return f"`{text.removesuffix('...').strip()}`"


def _doc(cls: type) -> str:
    return " ".join(inspect.cleandoc(cls.__doc__ or "").split())


def _table(cls: type[BaseModel]) -> list[str]:
    lines = [
        f'### <a id="{_anchor(cls)}"></a>{cls.__name__}',
        "",
        _doc(cls),
        "",
        "| key | type and bounds | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, f in cls.model_fields.items():
        text = field_comment(cls, name).replace("|", "\\|")
        kind = _type(f.annotation, f.metadata).replace("|", "\\|")
        lines.append(f"| `{name}` | {kind} | {_default(f)} | {text} |")
    return [*lines, ""]


def describe() -> str:
    """The reference as Markdown (docs/scenario_reference.md is this text)."""
    out = [
        "# Scenario and experiment file reference",
        "",
        "Generated from the pydantic models that validate each file",
        "(`python -m woonsim_experiments.reference > docs/scenario_reference.md`); a test",
        "checks that this file is current and that every example below validates. Every",
        "file is YAML; unknown keys, wrong types and values out of bounds are refused with",
        "one line that names the key. Where a default and a shipped scenario differ, the",
        "scenario file says where its value comes from (`docs/ODD.md` Part B, "
        "`calibration_data/FITS.md`).",
        "",
        *(f"- [{title}](#{anchor})" for title, anchor, *_ in FILES),
        "- [Paths](#paths)",
        "",
    ]
    shown: list[type[BaseModel]] = []
    for title, anchor, root, what, example in FILES:
        out += [f'## <a id="{anchor}"></a>{title}', "", what, "", "```yaml", example.rstrip()]
        out += ["```", ""]
        for cls in models(root):
            if cls not in shown:  # a model used by two files is described once
                shown.append(cls)
                out += _table(cls)
    out.append(PATHS)
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(describe(), end="")
