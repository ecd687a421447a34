"""Hard input, property-based (hypothesis): malformed and extreme scenarios (stylized and
region), experiment files, calibration specs, calibration data files and YAML shapes.

Every case is either accepted (and, in the end-to-end tests, runs to a result whose
invariants and output ranges hold: `run` checks the invariants, `summary_json` and
`run_measures` the ranges) or rejected with one line (`ScenarioError` or `DataError`) that
names the field, or the file, row and column. Any other exception fails the test.

Cases per run of the suite (hypothesis `derandomize=True`, so CI sees the same cases every
time; `deadline=None`; about 30 s on one free core, a minute on a busy one):

    test                               cases  checked
    test_stylized_scenarios              1200  in process: validation
    test_region_scenarios                1200  in process: validation (data and size)
    test_region_numbers                   600  in process: numbers in and out of bounds
    test_yaml_shapes                      600  in process: the one YAML loader
    test_experiment_files                 500  in process: validation and expansion
    test_calibration_specs                200  in process: `load_spec`
    test_calibration_data_files           300  in process: the data folder, then a region
    test_stylized_end_to_end              150  runs (estimated under 5 s), checked
    test_region_end_to_end                150  runs of one small municipality, checked
    test_cli_rejections                     8  `woonsim run` processes: exit 2, one
                                               stderr line, no traceback, nothing written
    total                                4908

Of the end-to-end cases about 70% (stylized) and 20% (region: a mix must still add up to
1) are accepted and run; the others are rejected, cleanly.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from woonsim import DataError, ScenarioError, parse_scenario, run
from woonsim.data import DATA_ENV, clear_cache, municipalities
from woonsim.measures import run_measures
from woonsim.scenario import RegionScenario, StylizedScenario
from woonsim.size import estimate
from woonsim.yaml_loader import MAX_DEPTH, parse_yaml

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"


def cases(n: int):
    """Deterministic settings for CI: the same `n` cases on every run."""
    return settings(
        max_examples=n,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
    )


# --- documents and their mutations -------------------------------------------------------
STYLIZED = {
    "kind": "stylized",
    "name": "t",
    "time_unit": "month",
    "measure": {"warmup": 2.0, "window": 20.0, "tail": 2.0},
    "vacancies": {"rate": 10.0},
    "allocation": {"rule": "quota", "order": "fifo", "quota": {"share": 0.3, "groups": ["a"]}},
    "groups": [
        {"name": "a", "rate": 3.0, "patience": 4.0, "priority": True},
        {"name": "b", "rate": 5.0},
    ],
}
REGION = yaml.safe_load((DATA / "tiny_region.yaml").read_text())
# one small municipality, a quarter-year burn-in and half a year reported (end to end)
SMALL = {**copy.deepcopy(REGION), "municipalities": ["GM1842"], "burn_in_years": 0.25}
SMALL["years"] = 0.5

# values that break things: out of range, not finite, of the wrong type, extreme
EVIL = st.one_of(
    st.sampled_from(
        [0, -1, 1, 2, 0.0, -0.0, 1e-14, 1e-300, 1e12, 1e300, -1e300, 10**30, 2**63, 0.5,
         0.3333333, 1.0000001, True, False, None, "", "x", "1e5", "GM9999", [], [1, 2], {},
         {"a": 1}, math.inf, -math.inf, math.nan]
    ),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(max_size=12),
)  # fmt: skip
# values inside most bounds, to be accepted more often (extreme but valid inputs)
PLAUSIBLE = st.one_of(
    st.sampled_from([0, 0.0, 1, 1.0, 0.5, 0.01, 0.99, 2, 5, 10, 26, 100]),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=0, max_value=50, allow_nan=False),
)


def nodes(doc, prefix=()):
    """Every path into a document (dict keys and list items), the root excluded."""
    out = []
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for k, v in items:
        out.append((*prefix, k))
        out += nodes(v, (*prefix, k))
    return out


def is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def mutate(doc, edits, numbers_only: bool = False):
    """Apply edits: (op, path choice, value); ops set, delete, add an unknown key.
    `numbers_only`: set only values that are numbers (extreme but well-typed input)."""
    doc = copy.deepcopy(doc)
    for op, pick, value in edits:
        paths = nodes(doc)
        if numbers_only:
            paths = [p for p in paths if is_number(_at(doc, p))]
        if not paths:
            break
        path = paths[pick % len(paths)]
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        key = path[-1]
        if op == "set":
            parent[key] = copy.deepcopy(value)
        elif op == "delete" and isinstance(parent, dict):
            del parent[key]
        elif op == "add" and isinstance(parent, dict):
            parent[f"unknown_{pick % 7}"] = copy.deepcopy(value)
    return doc


def _at(doc, path):
    for k in path:
        doc = doc[k]
    return doc


def edits(values=EVIL, ops=("set", "set", "set", "delete", "add"), n=3):
    return st.lists(
        st.tuples(st.sampled_from(ops), st.integers(0, 10_000), values), min_size=1, max_size=n
    )


def one_line_naming(err: Exception, roots: set[str]) -> str:
    """The error is one line whose location (before the first ': ') starts with one of
    `roots` (a key of the input, a field of the spec, or a file)."""
    msg = str(err)
    assert msg and "\n" not in msg, msg
    head = msg.split(": ", 1)[0]
    first = re.split(r"[.\[]", head, maxsplit=1)[0]
    assert first in roots or any(head.startswith(r) for r in roots if "/" in r), msg
    return msg


def roots_of(data, cls) -> set[str]:
    keys = set(map(str, data)) if isinstance(data, dict) else set()
    return keys | set(cls.model_fields) | {"scenario", "size", "kind"}


def validate(data, cls):
    """parse_scenario: a scenario, or None after checking the rejection is clean."""
    try:
        sc = parse_scenario(data)
    except ScenarioError as err:
        one_line_naming(err, roots_of(data, cls))
        event("rejected")
        return None
    event("accepted")
    json.dumps(sc.model_dump(mode="json"), allow_nan=False)  # finite numbers only
    return sc


# --- validation, in process ----------------------------------------------------------------
@cases(1200)
@given(edits())
def test_stylized_scenarios(ed):
    validate(mutate(STYLIZED, ed), StylizedScenario)


@cases(1200)
@given(edits())
def test_region_scenarios(ed):
    validate(mutate(REGION, ed), RegionScenario)


@cases(600)
@given(edits(st.one_of(PLAUSIBLE, EVIL), ("set",), n=4))
def test_region_numbers(ed):
    """Numbers only, in and out of their bounds: accepted within, refused outside."""
    validate(mutate(REGION, ed, numbers_only=True), RegionScenario)


def _runs_quickly(sc) -> bool:
    return estimate(sc).seconds < 5


@cases(150)
@given(edits(PLAUSIBLE, ("set",), n=2))
def test_stylized_end_to_end(ed):
    sc = validate(mutate(STYLIZED, ed, numbers_only=True), StylizedScenario)
    if sc is not None and _runs_quickly(sc):
        event("ran")
        result = run(sc, 1)  # invariants checked
        json.loads(result.summary_json())  # shares within [0, 1], finite numbers
        run_measures(result)  # output ranges


def _region_edits():
    skip = {"burn_in_years", "years", "municipalities", "start_year", "name", "kind"}
    return edits(PLAUSIBLE, ("set",), n=3).map(lambda ed: (ed, skip))


@cases(150)
@given(_region_edits())
def test_region_end_to_end(arg):
    ed, skip = arg
    doc = mutate(SMALL, ed, numbers_only=True)
    for k in skip:  # the horizon and the region stay small
        doc[k] = SMALL[k]
    sc = validate(doc, RegionScenario)
    if sc is not None and _runs_quickly(sc):
        event("ran")
        result = run(sc, 2)
        json.loads(result.summary_json())
        run_measures(result)


# --- YAML shapes ---------------------------------------------------------------------------
def _deep(n: int, kind: str) -> str:
    return "x: " + ("[" * n + "]" * n if kind == "list" else "{a: " * n + "1" + "}" * n)


YAML_TEXT = st.one_of(
    st.builds(lambda n, k: _deep(n, k), st.integers(1, 400), st.sampled_from(["list", "map"])),
    st.builds(
        lambda depth, key: (
            "".join(f"{'  ' * i}k{i}:\n" for i in range(depth))
            + f"{'  ' * depth}{key}: 1\n{'  ' * depth}{key}: 2\n"
        ),
        st.integers(0, 6),
        st.sampled_from(["rate", "name", "a b", "1"]),
    ),
    st.builds(
        lambda token, where: f"a: {{b: [1, {token}]}}\n" if where else f"a: {token}\n",
        st.sampled_from([".inf", "-.inf", ".nan", ".NaN", "1e400", "-1e999"]),
        st.booleans(),
    ),
    st.builds(
        lambda width, levels: (
            "a0: &a0 [1]\n"
            + "".join(
                f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]\n" for i in range(1, levels)
            )
        ),
        st.integers(2, 12),
        st.integers(2, 9),
    ),
    st.text(max_size=200),
)


@cases(600)
@given(YAML_TEXT)
def test_yaml_shapes(text):
    try:
        data = parse_yaml(text, "f.yaml")
    except ScenarioError as err:
        msg = str(err)
        assert msg and "\n" not in msg, msg
        # the file (and line or key), or the key of a number that is not finite
        assert msg.startswith("f.yaml: ") or msg.endswith(": input should be a finite number")
        return
    # accepted: within the bounds, every number finite
    assert depth(data) <= MAX_DEPTH
    json.dumps(data, allow_nan=False, default=str)


def depth(x) -> int:
    if isinstance(x, dict):
        return 1 + max((depth(v) for v in x.values()), default=0)
    if isinstance(x, list):
        return 1 + max((depth(v) for v in x), default=0)
    return 0


def test_yaml_refusals_name_the_key_or_line():
    """The three refusals of the issue, one line each (the generated cases above only
    require some clean line)."""
    with pytest.raises(
        ScenarioError, match=r"^f: rate: key given twice in one mapping \(lines 2 and 3\)$"
    ):
        parse_yaml("v:\n  rate: 1\n  rate: 2\n", "f")
    with pytest.raises(ScenarioError, match=r"^v\.rate: input should be a finite number$"):
        parse_yaml("v: {rate: .inf}\n", "f")
    with pytest.raises(ScenarioError, match=rf"^f: line 1: nested deeper than {MAX_DEPTH} levels$"):
        parse_yaml(_deep(1000, "list"), "f")
    with pytest.raises(ScenarioError, match=r"^f: more than 200,000 values"):
        parse_yaml(
            "a0: &a0 [1]\n"
            + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 7)),
            "f",
        )


# --- experiment files ----------------------------------------------------------------------
EXPERIMENT = {
    "name": "tiny",
    "base": "tiny_region.yaml",
    "replications": 2,
    "root_seed": 7,
    "baseline": "current practice",
    "variants": [
        {"name": "current practice", "set": {}},
        {"name": "floor", "set": {"allocation.quota.share": 0.3, "allocation.quota.mode": "floor"}},
    ],
    "levers": {"flows.departure_rate": [0.02, 0.03]},
    "uncertainties": [{"path": "flows.notice_weeks", "low": 2.0, "high": 6.0}],
    "design": {"kind": "lhs", "samples": 2},
    "horizon": {"burn_in_years": 1, "years": 1},
}
EXPERIMENT_VALUES = st.one_of(
    st.sampled_from(
        [0, 1, 2, 3, -1, 10**7, 10**12, 2**63, 0.5, 1e300, math.inf, math.nan, None, "", "x",
         [], {}, [0.1, 1.5], {"share": 2}, "sobol", "factorial", "allocation.quota.share",
         "groups[starters].accept", "groups[nobody].accept", "flows.departures"]
    ),
    st.integers(-3, 64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.floats(min_value=0, max_value=1), max_size=40),
)  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copy(DATA / "tiny_region.yaml", tmp_path / "tiny_region.yaml")
    return tmp_path


@cases(500)
@given(edits(EXPERIMENT_VALUES))
def test_experiment_files(folder, ed):
    from woonsim_experiments.experiment import MAX_RUNS, ExperimentSpec, parse_experiment

    data = mutate(EXPERIMENT, ed)
    try:
        exp = parse_experiment(data, folder)
    except ScenarioError as err:
        roots = roots_of(data, ExperimentSpec) | {"experiment", "base"}
        one_line_naming(err, roots)
        return
    assert 1 <= len(exp.runs()) <= MAX_RUNS
    assert re.fullmatch(r"[0-9a-f]{64}", exp.sha256)


# --- calibration specs ---------------------------------------------------------------------
CALIBRATION = {
    "scenario": "tiny_region.yaml",
    "region": "haaglanden",
    "horizon": {"burn_in_years": 1, "years": 1},
    "parameters": [
        {"path": "flows.departure_rate", "low": 0.01, "high": 0.07},
        {"path": "groups[starters|doorstromers].patience_years", "low": 1, "high": 10},
    ],
}


@cases(200)
@given(edits(EXPERIMENT_VALUES))
def test_calibration_specs(folder, ed):
    from woonsim_experiments.calibrate import CalibrationSpec, load_spec

    data = mutate(CALIBRATION, ed)
    path = folder / "calibration.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    try:
        scenario, params, targets, region = load_spec(path)
    except ScenarioError as err:
        one_line_naming(err, roots_of(data, CalibrationSpec) | {"calibration", str(path)})
        return
    assert scenario.kind == "region" and params and targets and region == data["region"]


# --- calibration data files ----------------------------------------------------------------
MUNI = "municipalities_2025.csv"
COUNT_COLUMNS = ["population_2024", "households_2024", "dwellings_2025", "corporation_2025"]
CELLS = st.sampled_from(
    ["", "-5", "nan", "NaN", "inf", "abc", "1e12", "12.5", "0", "1e3", "007", " ", "5000001"]
)
CORRUPTION = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 341)),
    st.tuples(st.just("duplicate"), st.integers(0, 341)),
    st.tuples(
        st.just("cell"), st.integers(0, 341), st.sampled_from([*COUNT_COLUMNS, "code"]), CELLS
    ),
    st.tuples(st.just("over"), st.integers(0, 341)),  # corporation stock above all dwellings
    st.tuples(st.just("rename"), st.sampled_from([*COUNT_COLUMNS, "code", "name"])),
    st.tuples(st.just("truncate"), st.integers(0, 60_000)),
    st.tuples(st.just("junk"), st.binary(min_size=1, max_size=300)),
    st.tuples(st.just("empty")),
)


@pytest.fixture
def data_copy(tmp_path: Path, monkeypatch) -> Path:
    src = REPO / "calibration_data"
    dst = tmp_path / "data"
    dst.mkdir()
    for f in src.iterdir():
        if f.is_file() and f.suffix in (".csv", ".json"):
            shutil.copy(f, dst / f.name)
    shutil.copytree(src / "fits", dst / "fits")
    monkeypatch.setenv(DATA_ENV, str(dst))
    clear_cache()
    yield dst
    monkeypatch.delenv(DATA_ENV)
    clear_cache()


def corrupt(text: str, c) -> tuple[bytes, int | None, str | None]:
    """The corrupted file, and the row and column edited (for cell edits)."""
    lines = text.splitlines(keepends=True)
    head, rows = lines[0], lines[1:]
    op = c[0]
    if op == "delete":
        del rows[c[1]]
    elif op == "duplicate":
        rows.insert(c[1], rows[c[1]])
    elif op in ("cell", "over"):
        cols = next(csv.reader([head]))
        cells = next(csv.reader([rows[c[1]]]))
        if op == "over":
            col = "corporation_2025"
            value = str(int(cells[cols.index("dwellings_2025")]) + 1)
        else:
            col, value = c[2], c[3]
        cells[cols.index(col)] = value
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(cells)
        rows[c[1]] = out.getvalue()
        return (head + "".join(rows)).encode(), c[1] + 1, col
    elif op == "rename":
        head = head.replace(c[1], c[1] + "_x", 1)
    elif op == "truncate":
        return text.encode()[: c[1]], None, None
    elif op == "junk":
        return c[1], None, None
    elif op == "empty":
        return b"", None, None
    return (head + "".join(rows)).encode(), None, None


@cases(300)
@given(CORRUPTION)
def test_calibration_data_files(data_copy, c):
    original = (REPO / "calibration_data" / MUNI).read_text(encoding="utf-8")
    raw, row, col = corrupt(original, c)
    (data_copy / MUNI).write_bytes(raw)
    clear_cache()
    try:
        table = municipalities()
        parse_scenario({**REGION, "municipalities": list(table["code"][:3])})
    except DataError as err:
        msg = str(err)
        assert "\n" not in msg and msg.startswith(str(data_copy / MUNI)), msg
        if row is not None and re.search(
            r" row \d+ \(line", msg
        ):  # the edited row, and its column (or the
            # column it is checked against: households within population, stock within
            # dwellings)
            pair = {
                "population_2024": "households_2024",
                "dwellings_2025": "corporation_2025",
            }
            cols = {col, pair.get(col, col)}
            assert f" row {row} (line {row + 1};" in msg, msg
            assert any(f"column '{x}'" in msg for x in cols), msg
        return
    # accepted: the edit left every value the model reads as it was
    assert raw == original.encode() or c[0] in ("cell", "truncate"), c
    if c[0] == "truncate":
        assert c[1] >= len(original.encode().rstrip(b"\n")), c
    clean = municipalities_clean()
    assert table[COUNT_COLUMNS].equals(clean[COUNT_COLUMNS]), c


_CLEAN: list = []


def municipalities_clean():
    if not _CLEAN:
        import pandas as pd

        _CLEAN.append(pd.read_csv(REPO / "calibration_data" / MUNI))
    return _CLEAN[0]


def test_a_deleted_row_is_blamed_on_the_data_file(data_copy):
    """Den Haag's row deleted: a scenario naming Den Haag gets the data file's error (the
    row count), not "unknown municipality code"."""
    text = (data_copy / MUNI).read_text(encoding="utf-8")
    lines = [x for x in text.splitlines(keepends=True) if not x.startswith("GM0518,")]
    (data_copy / MUNI).write_text("".join(lines), encoding="utf-8")
    clear_cache()
    with pytest.raises(
        DataError,
        match=r"municipalities_2025\.csv: 341 municipalities, but the 2025 division has 342",
    ):
        parse_scenario({**REGION, "municipalities": ["GM0518"]})


# --- through the command line --------------------------------------------------------------
@cases(8)
@given(edits(st.sampled_from([-1, math.inf, math.nan, "x", 1e300, None, [], {"a": 1}]), ("set",)))
def test_cli_rejections(tmp_path_factory, ed):
    """Rejected scenarios in a real `woonsim run` process: exit 2, one stderr line, no
    traceback, nothing written (no output folder, no temporary files)."""
    doc = mutate(STYLIZED, ed)
    try:
        parse_scenario(doc)
        return  # accepted: runs are checked above
    except ScenarioError:
        pass
    d = tmp_path_factory.mktemp("cli")
    (d / "s.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    woonsim = Path(sys.executable).with_name("woonsim")
    p = subprocess.run(
        [str(woonsim), "run", "s.yaml", "--out", "out"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=d,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert p.returncode == 2, p.stderr
    assert len(p.stderr.splitlines()) == 1 and p.stderr.startswith("woonsim: error: "), p.stderr
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert sorted(x.name for x in d.iterdir()) == ["s.yaml"]
