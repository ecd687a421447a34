"""Experiment files: one-line errors naming the field, the expansion into runs (variants,
levers, design points) and the seeds (common random numbers)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from woonsim.scenario import ScenarioError
from woonsim.simulate import run
from woonsim_cli import main
from woonsim_experiments.experiment import load_experiment, parse_experiment

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).parents[1]

GOOD = """\
name: tiny
base: tiny_region.yaml
replications: 2
root_seed: 7
baseline: current practice
variants:
  - name: current practice
    set: {}
  - name: floor
    set: {allocation.quota.share: 0.3, allocation.quota.mode: floor}
"""

UNC = """
uncertainties:
  - {path: flows.departure_rate, low: 0.02, high: 0.03}
design: {kind: lhs, samples: 4}
"""


def sub(old: str, new: str):
    def edit(s: str) -> str:
        assert old in s, old
        return s.replace(old, new)

    return edit


def add(text: str):
    return lambda s: s + text


STYLIZED = (REPO / "experiments" / "scenarios" / "stylized_region.yaml").resolve()

LEVERS = (  # ten scenario shares: a full grid of ten values each has 10^10 variants
    "allocation.lottery_share",
    "allocation.local_binding_share",
    "stock.youth_label_share",
    "stock.senior_label_share",
    "allocation.urgency.binding_accept",
    "allocation.urgency.approval_share",
    "flows.departure_rate",
    "flows.demolition_rate",
    "flows.sale_rate",
    "kostendelersnorm_extra_households",
)

# (case, edit of GOOD, expected start of the message after "woonsim: error: ")
CASES = [
    ("unknown top-level key", add("colour: red\n"), "colour: unknown key"),
    ("missing key", sub("replications: 2\n", ""), "replications: required key is missing"),
    (
        "replications zero",
        sub("replications: 2", "replications: 0"),
        "replications: input should be greater than or equal to 1",
    ),
    (
        "replications bool",
        sub("replications: 2", "replications: true"),
        "replications: input should be a valid integer",
    ),
    (
        "negative root seed",
        sub("root_seed: 7", "root_seed: -1"),
        "root_seed: input should be greater than or equal to 0",
    ),
    (
        "bad policy value",
        sub("mode: floor", "mode: flor"),
        "variants[1].set.allocation.quota.mode: input should be 'none', 'floor'",
    ),
    (
        "share above 1",
        sub("share: 0.3", "share: 1.3"),
        "variants[1].set.allocation.quota.share: input should be less than or equal to 1",
    ),
    (
        "share not a number",
        sub("share: 0.3", "share: lots"),
        "variants[1].set.allocation.quota.share: input should be a valid number",
    ),
    (
        "unknown section in path",
        sub("allocation.quota.share", "allocation.quta.share"),
        "variants[1].set.allocation.quta.share: no such section 'quta'",
    ),
    (
        "unknown parameter in path",
        sub("allocation.quota.share", "allocation.quota.shar"),
        "variants[1].set.allocation.quota.shar: no such parameter 'shar'",
    ),
    (
        "unknown group in path",
        sub("set: {}", "set: {'groups[nobody].accept': 0.5}"),
        "variants[0].set.groups[nobody].accept: no group named 'nobody'",
    ),
    (
        "bad value in a group by name",
        sub("set: {}", "set: {'groups[doorstromers].accept': 2}"),
        "variants[0].set.groups[doorstromers].accept: input should be less than or equal to 1",
    ),
    (
        "unknown key in a section mapping",
        sub("set: {}", "set: {allocation.quota: {share: 0.2, mod: floor}}"),
        "variants[0].set.allocation.quota.mod: unknown key",
    ),
    ("set not a mapping", sub("set: {}", "set: [1]"), "variants[0].set: input should be a valid"),
    (
        "duplicate variant names",
        sub("name: floor", "name: current practice"),
        "variants[1].name: duplicate variant name 'current practice'",
    ),
    (
        "baseline not a variant",
        sub("baseline: current practice", "baseline: x"),
        "baseline: 'x' is not a variant",
    ),
    (
        "lever value out of range",
        add("levers:\n  allocation.quota.share: [0.1, 1.5]\n"),
        "levers.allocation.quota.share[1]: input should be less than or equal to 1",
    ),
    (
        "lever on an unknown path",
        add("levers:\n  allocation.lottery: [0.1]\n"),
        "levers.allocation.lottery: no such parameter 'lottery'",
    ),
    (
        "lever names clash with a variant",
        lambda s: (
            sub("name: floor", "name: allocation.quota.share=0.1")(s)
            + "levers:\n  allocation.quota.share: [0.1]\n"
        ),
        "levers: duplicate variant name 'allocation.quota.share=0.1'",
    ),
    ("design kind", add(UNC.replace("kind: lhs", "kind: halton")), "design.kind: input should be"),
    (
        "design without samples",
        add(UNC.replace("kind: lhs, samples: 4", "kind: lhs")),
        "design.samples: required for kind lhs",
    ),
    (
        "sobol not a power of 2",
        add(UNC.replace("kind: lhs, samples: 4", "kind: sobol, samples: 6")),
        "design.samples: sobol needs a power of 2 (got 6)",
    ),
    (
        "factorial without levels",
        add(UNC.replace("kind: lhs, samples: 4", "kind: factorial")),
        "design.levels: required for kind factorial",
    ),
    (
        "uncertainties without design",
        add(UNC.replace("design: {kind: lhs, samples: 4}\n", "")),
        "design: required when uncertainties are given",
    ),
    ("design without uncertainties", add("design: {kind: lhs, samples: 4}\n"), "design: no "),
    (
        "uncertainty bounds reversed",
        add(UNC.replace("low: 0.02, high: 0.03", "low: 0.03, high: 0.02")),
        "uncertainties[0].high: must be above low",
    ),
    (
        "uncertainty outside the scenario's range",
        add(UNC.replace("high: 0.03", "high: 3.0")),
        "uncertainties[0]: input should be less than or equal to 1",
    ),
    (
        "uncertainty on an unknown path",
        add(UNC.replace("flows.departure_rate", "flows.departures")),
        "uncertainties[0].path: flows.departures: no such parameter 'departures'",
    ),
    (
        "uncertainty also set by a variant",
        add(UNC.replace("flows.departure_rate", "allocation.quota.share")),
        "uncertainties[0].path: 'allocation.quota.share' is also set by variants[1]",
    ),
    (
        "horizon",
        add("horizon: {burn_in_years: 1, years: 0}\n"),
        "horizon.years: input should be greater than 0",
    ),
    ("horizon unknown key", add("horizon: {yeras: 3}\n"), "horizon.yeras: unknown key"),
    (
        "a million replications",
        sub("replications: 2", "replications: 1000000"),
        "replications: input should be less than or equal to 10000",
    ),
    (
        "too many runs",
        lambda s: (
            sub("replications: 2", "replications: 10000")(s)
            + "levers:\n  flows.notice_weeks: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
        ),
        "replications: 11 variants x 1 design points x 10,000 replications = 110,000 runs, "
        "more than the 100,000 a sweep may have",
    ),
    (
        "an LHS of ten million samples",
        add(UNC.replace("samples: 4", "samples: 10000000")),
        "design.samples: input should be less than or equal to 10000",
    ),
    (
        "a lever grid of ten billion variants",
        add("levers:\n" + "".join(f"  {p}: [{', '.join(['0.1'] * 10)}]\n" for p in LEVERS)),
        "levers: 10,000,000,002 variants (listed plus the lever grid), more than the 1,000",
    ),
    (
        "horizon of a nanosecond",
        add("horizon: {years: 1e-9}\n"),
        "horizon: years: the reported window needs at least one advert cycle",
    ),
    (
        "horizon of a trillion years",
        add("horizon: {years: 1e12}\n"),
        "horizon.years: input should be less than or equal to 300",
    ),
    (
        "infinite horizon",
        add("horizon: {years: .inf}\n"),
        "horizon.years: input should be a finite",
    ),
    (
        "duplicate key",
        sub("replications: 2\n", "replications: 2\nreplications: 3\n"),
        "{path}: replications: key given twice in one mapping (lines 3 and 4)",
    ),
    ("base file missing", sub("tiny_region.yaml", "nowhere.yaml"), "base: "),
    (
        "base of the wrong kind",
        sub("tiny_region.yaml", str(STYLIZED)),
        "base: the base scenario must be of kind region (got stylized)",
    ),
    ("not a mapping", lambda s: "- 1\n- 2\n", "experiment: expected a mapping"),
    ("bad YAML", sub("variants:", "variants: ["), "{path}: invalid YAML at line 7"),
]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(DATA / "tiny_region.yaml", tmp_path / "tiny_region.yaml")
    return tmp_path


def write(folder: Path, text: str, name: str = "exp.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_loads(folder):
    exp = load_experiment(write(folder, GOOD))
    assert exp.variant_names == ["current practice", "floor"]
    assert [s.run for s in exp.runs()] == [
        "v00-p000-r000",
        "v00-p000-r001",
        "v01-p000-r000",
        "v01-p000-r001",
    ]
    q = exp.scenario(1).allocation.quota
    assert (q.share, q.mode) == (0.3, "floor")
    assert exp.scenario(0).allocation.quota.mode == "none"
    assert exp.points == [{}]


@pytest.mark.parametrize(("case", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_experiment_file(folder, capsys, case, edit, expected):
    path = write(folder, edit(GOOD))
    out = folder / "results"
    assert main(["experiment", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("woonsim: error: " + expected.replace("{path}", str(path))), err
    assert "Traceback" not in err
    assert not out.exists()


def test_bad_file_in_a_real_process(folder):
    path = write(folder, sub("mode: floor", "mode: flor")(GOOD))
    out = folder / "results"
    proc = subprocess.run(
        [sys.executable, "-m", "woonsim_cli", "experiment", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=folder,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("woonsim: error: variants[1].set.allocation.quota.mode: ")
    assert proc.stderr.count("\n") == 1
    assert proc.stdout == ""
    assert not out.exists() and not (folder / "results").exists()


def test_missing_file(folder, capsys):
    assert main(["experiment", str(folder / "nope.yaml")]) == 2
    assert "nope.yaml: file not found" in capsys.readouterr().err


# --- expansion ------------------------------------------------------------------------
def test_values_of_any_type_and_section_mappings(folder):
    text = GOOD + (
        "  - name: mixed\n"
        "    set:\n"
        "      allocation.ranking: points\n"  # a string
        "      allocation.cycle_weeks: 2\n"  # an int
        "      allocation.quota: {share: 0.2}\n"  # a section: updates share only
        "      groups[starters].household: {size: [0.5, 0.3, 0.2]}\n"
        "      groups[starters|doorstromers].accept: 0.25\n"
        "      construction.social_share: {GM1842: 0.5, GM0629: 0.1}\n"  # a mapping value
        "      kostendelersnorm_extra_households: 0.01\n"
    )
    text = text.replace("mode: none", "mode: cap")
    base_text = (
        (folder / "tiny_region.yaml")
        .read_text()
        .replace("quota: {share: 0.0, mode: none}", "quota: {share: 0.0, mode: cap}")
    )
    (folder / "tiny_region.yaml").write_text(base_text)
    sc = load_experiment(write(folder, text)).scenario(2)
    assert sc.allocation.ranking == "points"
    assert sc.allocation.cycle_weeks == 2
    assert (sc.allocation.quota.share, sc.allocation.quota.mode) == (0.2, "cap")  # mode kept
    starters = sc.groups[sc.group_names.index("starters")]
    doorstromers = sc.groups[sc.group_names.index("doorstromers")]
    assert starters.household.size == [0.5, 0.3, 0.2]
    base = yaml.safe_load(base_text)["groups"][0]
    assert starters.household.income == base["household"]["income"]  # kept from the base
    assert starters.accept == doorstromers.accept == 0.25
    assert sc.construction.social_share == {"GM1842": 0.5, "GM0629": 0.1}
    assert sc.kostendelersnorm_extra_households == 0.01


def test_horizon_overrides_the_base(folder):
    exp = load_experiment(write(folder, GOOD + "horizon: {burn_in_years: 2, years: 3}\n"))
    for s in exp.runs():
        assert (s.scenario.burn_in_years, s.scenario.years) == (2, 3)
    assert exp.base_scenario.horizon == 5


def test_levers_add_a_full_factorial_grid(folder):
    text = (
        GOOD
        + "levers:\n  allocation.quota.share: [0.1, 0.2]\n  allocation.quota.mode: [floor, cap]\n"
    )
    exp = load_experiment(write(folder, text))
    assert exp.variant_names == [
        "current practice",
        "floor",
        "allocation.quota.share=0.1, allocation.quota.mode=floor",
        "allocation.quota.share=0.1, allocation.quota.mode=cap",
        "allocation.quota.share=0.2, allocation.quota.mode=floor",
        "allocation.quota.share=0.2, allocation.quota.mode=cap",
    ]
    got = [
        (exp.scenario(v).allocation.quota.share, exp.scenario(v).allocation.quota.mode)
        for v in range(2, 6)
    ]
    assert got == [(0.1, "floor"), (0.1, "cap"), (0.2, "floor"), (0.2, "cap")]
    assert len(exp.runs()) == 6 * 2
    assert len({s.run for s in exp.runs()}) == 12


def test_factorial_design_grid(folder):
    text = GOOD + (
        "uncertainties:\n"
        "  - {path: flows.departure_rate, low: 0.02, high: 0.03}\n"
        "  - {path: allocation.cycle_weeks, low: 1, high: 4}\n"
        "design: {kind: factorial, levels: 3}\n"
    )
    exp = load_experiment(write(folder, text))
    rates = [0.02, 0.025, 0.03]
    weeks = [1, 2, 4]  # 2.5 rounds to 2: cycle_weeks is a whole number
    pts = exp.points
    assert len(pts) == 9
    for p, (r, w) in zip(pts, [(r, w) for r in rates for w in weeks], strict=True):
        assert p["flows.departure_rate"] == pytest.approx(r)
        assert p["allocation.cycle_weeks"] == w and isinstance(p["allocation.cycle_weeks"], int)
    runs = exp.runs()
    assert len(runs) == 2 * 9 * 2
    for s in runs:
        assert s.scenario.flows.departure_rate == s.values["flows.departure_rate"]
        assert s.scenario.allocation.cycle_weeks == s.values["allocation.cycle_weeks"]
    # the variant's own settings survive at every point
    assert all(s.scenario.allocation.quota.mode == "floor" for s in runs if s.variant_index == 1)


@pytest.mark.parametrize("kind", ["lhs", "sobol"])
def test_sampled_designs(folder, kind):
    text = GOOD + (
        "uncertainties:\n"
        "  - {path: flows.departure_rate, low: 0.02, high: 0.03}\n"
        "  - {path: 'groups[starters].accept', low: 0.3, high: 0.6}\n"
        f"design: {{kind: {kind}, samples: 8}}\n"
    )
    a = load_experiment(write(folder, text)).points
    b = load_experiment(write(folder, text, "again.yaml")).points
    other = load_experiment(write(folder, text.replace("root_seed: 7", "root_seed: 8"), "o.yaml"))
    assert a == b  # seeded from the root seed
    assert a != other.points
    x = np.array([[p["flows.departure_rate"], p["groups[starters].accept"]] for p in a])
    lo, hi = np.array([0.02, 0.3]), np.array([0.03, 0.6])
    assert len(x) == 8 and ((x >= lo) & (x <= hi)).all()
    # both designs put exactly one point in each eighth of each range (Latin hypercube,
    # and a scrambled Sobol sequence of 2^3 points is a (0, 3, 2)-net)
    strata = np.floor((x - lo) / (hi - lo) * 8).astype(int)
    for j in range(2):
        assert sorted(strata[:, j]) == list(range(8))


# --- seeds: common random numbers -----------------------------------------------------
def _experiment(folder, paired: bool):
    text = GOOD + f"paired: {'true' if paired else 'false'}\n"
    return load_experiment(write(folder, text, f"paired_{paired}.yaml"))


def test_seeds_follow_the_contract(folder):
    paired, unpaired = _experiment(folder, True), _experiment(folder, False)
    for s in paired.runs():
        assert s.seed.entropy == 7 and tuple(s.seed.spawn_key) == (s.point, s.replication)
    for s in unpaired.runs():
        key = (s.point, s.replication, 1 + s.variant_index)
        assert s.seed.entropy == 7 and tuple(s.seed.spawn_key) == key


def test_paired_replications_share_arrivals(folder):
    paired = {(s.variant_index, s.replication): s for s in _experiment(folder, True).runs()}
    a = run(paired[0, 1].scenario, paired[0, 1].seed)
    b = run(paired[1, 1].scenario, paired[1, 1].seed)
    assert len(a.base.arrival) > 100
    np.testing.assert_array_equal(a.base.arrival, b.base.arrival)
    np.testing.assert_array_equal(a.base.group, b.base.group)
    np.testing.assert_array_equal(a.seekers.registration, b.seekers.registration)
    # the policy does change who is housed when
    assert not np.array_equal(a.base.exit, b.base.exit)
    # another replication of the same variant has other arrivals
    c = run(paired[0, 0].scenario, paired[0, 0].seed)
    assert not np.array_equal(a.base.arrival[:100], c.base.arrival[:100])


def test_unpaired_variants_have_independent_arrivals(folder):
    runs = {(s.variant_index, s.replication): s for s in _experiment(folder, False).runs()}
    a = run(runs[0, 1].scenario, runs[0, 1].seed)
    b = run(runs[1, 1].scenario, runs[1, 1].seed)
    n = min(len(a.base.arrival), len(b.base.arrival))
    assert n > 100
    assert not np.array_equal(a.base.arrival[:n], b.base.arrival[:n])


# --- identity ---------------------------------------------------------------------------
def test_sha_identifies_the_experiment(folder):
    a = load_experiment(write(folder, GOOD))
    assert load_experiment(write(folder, GOOD, "copy.yaml")).sha256 == a.sha256
    assert load_experiment(write(folder, GOOD.replace("root_seed: 7", "root_seed: 8"))).sha256 != (
        a.sha256
    )
    # the same file over a changed base scenario is another experiment
    base = folder / "tiny_region.yaml"
    base.write_text(base.read_text().replace("departure_rate: 0.0236", "departure_rate: 0.03"))
    assert load_experiment(write(folder, GOOD)).sha256 != a.sha256


def test_to_json_contract(folder):
    exp = load_experiment(write(folder, GOOD + UNC))
    doc = exp.to_json()
    for key in ("name", "base", "replications", "root_seed", "paired", "baseline", "variants"):
        assert key in doc
    assert doc["sha256"] == exp.sha256
    assert doc["municipalities"] == ["GM1842", "GM0629"]
    assert doc["base_scenario"]["kind"] == "region"
    assert len(doc["points"]) == 4 and set(doc["points"][0]) == {"flows.departure_rate"}
    assert doc["total_runs"] == 2 * 4 * 2


def test_default_experiment_file():
    exp = load_experiment(REPO / "experiments" / "quota_haaglanden.yaml")
    assert exp.variant_names[0] == exp.baseline == "current practice"
    quotas = [exp.scenario(v).allocation.quota for v in range(len(exp.variant_names))]
    assert [(q.share, q.mode, q.basis) for q in quotas] == [
        (0.0, "none", "vacancies"),
        (0.3, "floor", "lettings"),
        (0.4, "floor", "lettings"),
        (0.5, "floor", "lettings"),
        (0.2, "cap", "lettings"),
        (0.3, "floor", "vacancies"),
        (0.3, "floor", "lettings"),
        (0.3, "floor", "lettings"),
    ]
    # the own channels of studenten and arbeidsmigranten: the base's, closed, for all
    own = {
        name: [
            next(
                g for g in exp.scenario(v).groups if g.name == name
            ).own_channel_per_1000_households
            for v in (0, 6, 7)
        ]
        for name in ("studenten", "arbeidsmigranten")
    }
    assert own == {"studenten": [4.5, 0.0, 6.0], "arbeidsmigranten": [3.2, 0.0, 4.0]}
    # the burn-in is the scenario's, chosen by MSER-5
    assert (exp.base_scenario.burn_in_years, exp.base_scenario.years) == (55, 10)
    assert exp.replications == 8 and exp.root_seed == 20251125 and exp.paired
    assert len(exp.base_scenario.municipalities) == 9


def test_parse_experiment_errors_are_scenario_errors(folder):
    with pytest.raises(ScenarioError, match=r"^baseline: 'nope' is not a variant$"):
        parse_experiment({**yaml.safe_load(GOOD), "baseline": "nope"}, folder)
