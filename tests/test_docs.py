"""Docs checks (issue 15): the generated file reference is current and documents every
key; every YAML example in the README and the docs parses, and the examples of a known
file kind validate; every key of the default scenario is commented, and every value of a
shipped region scenario says where it comes from; the README's national figures are
those of the committed fit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from woonsim.scenario import parse_scenario
from woonsim_experiments.calibrate import CalibrationSpec
from woonsim_experiments.experiment import ExperimentSpec
from woonsim_experiments.national import NationalScenario
from woonsim_experiments.reference import FILES, describe, field_comment, models

ROOT = Path(__file__).resolve().parents[1]
DOCS = ["README.md", "docs/scenario_reference.md", "docs/ODD.md", "calibration_data/FITS.md"]
REGIONS = ["haaglanden", "amsterdam", "twente"]
# where a value of a shipped region scenario comes from (README, "Where the values come from")
SOURCES = ("[fitted", "[transfer", "[assumption", "[data", "[policy", "[setting")


def test_reference_is_current():
    doc = (ROOT / "docs" / "scenario_reference.md").read_text(encoding="utf-8")
    assert doc == describe(), (
        "regenerate with: python -m woonsim_experiments.reference > docs/scenario_reference.md"
    )


def test_every_key_of_every_file_kind_is_described():
    missing = [
        f"{cls.__name__}.{name}"
        for _, _, root, _, _ in FILES
        for cls in models(root)
        for name in cls.model_fields
        if not field_comment(cls, name)
    ]
    assert not missing, f"give these fields a comment in the source: {missing}"


def test_field_comment_reads_the_line_and_the_lines_above():
    from woonsim.region.scenario import GroupSpec, Quota

    assert field_comment(Quota, "mode") == "none, floor (at least), cap (at most), or ring_fenced"
    above = field_comment(GroupSpec, "own_channel_per_1000_households")
    assert above.startswith("the group's own channel") and above.endswith("searches the adverts")
    assert field_comment(Quota, "no_such_field") == ""


def _yaml_blocks(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M)


BLOCKS = [
    pytest.param(block, id=f"{name}#{i}")
    for name in DOCS
    for i, block in enumerate(_yaml_blocks((ROOT / name).read_text(encoding="utf-8")))
]


def test_the_docs_have_yaml_examples():
    names = {b.id.split("#")[0] for b in BLOCKS}
    assert {"README.md", "docs/scenario_reference.md"} <= names
    assert len([b for b in BLOCKS if b.id.startswith("docs/scenario_reference")]) == len(FILES)


@pytest.mark.parametrize("block", BLOCKS)
def test_yaml_example_parses_and_validates(block):
    """A broken example (an unquoted `{groups[starters].accept: 0.5}`) fails here."""
    data = yaml.safe_load(block)
    assert isinstance(data, dict)
    kind = data.get("kind")
    if kind in ("region", "stylized"):
        parse_scenario(data)
    elif kind == "national":
        NationalScenario.model_validate(data)
    elif "baseline" in data:
        ExperimentSpec.model_validate(data)
    elif "parameters" in data:
        CalibrationSpec.model_validate(data)


def test_an_unquoted_group_path_in_a_flow_mapping_is_a_yaml_error():
    """Why the docs quote such paths."""
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("set: {groups[starters].accept: 0.5}")
    assert yaml.safe_load("set: {'groups[starters].accept': 0.5}") == {
        "set": {"groups[starters].accept": 0.5}
    }
    block = "set:\n  groups[starters].accept: 0.5\n  groups[starters|doorstromers].accept: 0.4\n"
    assert yaml.safe_load(block) == {  # on a line of its own, no quotes are needed
        "set": {"groups[starters].accept": 0.5, "groups[starters|doorstromers].accept": 0.4}
    }


def _key_lines(path: Path) -> list[tuple[int, str, str, bool]]:
    """(line number, key, its comment, whether the line holds a value) of every line of a
    YAML file that starts a key (not the continuation of a flow mapping): the comment is
    the one at the end of the line and the comment lines just above it."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out, depth = [], 0
    for i, line in enumerate(lines):
        code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
        m = re.match(r"^\s*(?:- )?\{?\s*([A-Za-z_][\w.\[\]|]*)\s*:", code)
        if m and depth == 0:
            comment = line.split(" # ", 1)[1] if " # " in line else ""
            j = i - 1
            while j >= 0 and lines[j].lstrip().startswith("#"):
                comment = lines[j].lstrip("# ") + " " + comment
                j -= 1
            value = bool(code[m.end() :].strip())
            out.append((i + 1, m.group(1), comment, value))
        depth += code.count("{") + code.count("[") - code.count("}") - code.count("]")
    return out


def test_every_key_of_haaglanden_is_commented():
    """The README says the default scenario comments every key."""
    bare = [
        f"line {n}: {k}"
        for n, k, c, _ in _key_lines(ROOT / "experiments/scenarios/haaglanden.yaml")
        if not c.strip()
    ]
    assert not bare, bare


@pytest.mark.parametrize("region", REGIONS)
def test_every_value_of_a_region_scenario_says_where_it_comes_from(region):
    """Fitted for this region, a transfer from Haaglanden, an assumption, data, the
    region's current policy, or a simulation setting: one of the tags in SOURCES."""
    untagged = [
        f"line {n}: {k}"
        for n, k, c, value in _key_lines(ROOT / f"experiments/scenarios/{region}.yaml")
        if value and not any(tag in c.lower() for tag in SOURCES)
    ]
    assert not untagged, untagged


def _comments_by_place(path: Path) -> dict[tuple[str, str], str]:
    """(group name or "", key) -> comment, for every key line of a region scenario."""
    out, group = {}, ""
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, key, comment, _ in _key_lines(path):
        line = lines[n - 1]
        if re.match(r"^\s+- name:", line):
            group = line.split(":", 1)[1].split(" #")[0].strip()
        elif not line.startswith(" "):
            group = ""
        out[(group, key)] = comment
    return out


@pytest.mark.parametrize("region", REGIONS)
def test_fitted_values_are_tagged_fitted(region):
    """Every value the committed fit set (calibration_data/fits/fitted_<region>.yaml) is
    tagged [fitted] where it stands: in its group for `groups[a|b].x`."""
    fit = yaml.safe_load(
        (ROOT / f"calibration_data/fits/fitted_{region}.yaml").read_text(encoding="utf-8")
    )
    places = _comments_by_place(ROOT / f"experiments/scenarios/{region}.yaml")
    for path in fit["fitted"]:
        m = re.match(r"^groups\[([^\]]+)\]\.(\w+)$", path)
        keys = (
            [(g, m.group(2)) for g in m.group(1).split("|")] if m else [("", path.split(".")[-1])]
        )
        for place in keys:
            assert "[fitted" in places[place].lower(), (region, path, place)


def test_readme_and_fits_agree_on_the_national_figures():
    """The national lettings and the defaults' departure rate quoted in README.md and
    FITS.md are those of calibration_data/fits/fitted_national.yaml (its national run at
    the committed values) and national.yaml."""
    fit = yaml.safe_load(
        (ROOT / "calibration_data/fits/fitted_national.yaml").read_text(encoding="utf-8")
    )
    national = yaml.safe_load(
        (ROOT / "experiments/scenarios/national.yaml").read_text(encoding="utf-8")
    )
    rate = national["default_overrides"]["flows.departure_rate"]
    assert rate == float(f"{fit['fitted']['flows.departure_rate']:.3g}")
    lettings = f"{round(fit['national_run']['lettings_per_year']):,}"
    for name in ("README.md", "calibration_data/FITS.md"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert lettings in text and f"{rate}" in text, name
        assert f"{fit['targets']['lettings_per_year']:,.0f}" in text, name


def _odd_sections() -> set[str]:
    odd = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    return set(re.findall(r"^#{2,3} ([A-C]?\d+(?:\.\d+)?)[. ]", odd, flags=re.M))


def test_references_to_odd_sections_exist():
    """Every "docs/ODD.md §X" in the scenario and experiment files and the README names a
    section that exists."""
    sections = _odd_sections()
    assert {"B1.2", "B3.4", "B3.7", "3.5"} <= sections
    files = [ROOT / "README.md", *sorted((ROOT / "experiments").rglob("*.yaml"))]
    bad = [
        f"{f.relative_to(ROOT)}: §{ref}"
        for f in files
        for ref in re.findall(
            r"ODD(?:\.md)?,? (?:Part B )?§\s?([A-C]?\d+(?:\.\d+)?)", f.read_text()
        )
        if ref not in sections
    ]
    assert not bad, bad


@pytest.mark.parametrize("region", REGIONS)
def test_region_scenarios_point_to_part_b_of_the_odd(region):
    """The Dutch model is ODD Part B; Part A (§1-§3) is the stylized market."""
    text = (ROOT / f"experiments/scenarios/{region}.yaml").read_text(encoding="utf-8")
    refs = re.findall(r"ODD(?:\.md)?,? (?:Part B )?§\s?([A-C]?\d+(?:\.\d+)?)", text)
    assert refs and all(r.startswith("B") for r in refs), refs


@pytest.mark.parametrize("phrase", ["later release", "to be fitted"])
def test_no_stale_phrases_in_the_shipped_scenarios(phrase):
    stale = [
        p.name
        for p in (ROOT / "experiments" / "scenarios").glob("*.yaml")
        if phrase in p.read_text(encoding="utf-8")
    ]
    assert not stale, (phrase, stale)


def test_citation_file_names_this_version():
    import woonsim

    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    assert cff["cff-version"] == "1.2.0" and cff["type"] == "software"
    assert {"message", "title", "authors", "license"} <= set(cff)
    assert str(cff["version"]) == woonsim.__version__
    assert cff["license"] == "MIT" and "MIT License" in (ROOT / "LICENSE").read_text()
