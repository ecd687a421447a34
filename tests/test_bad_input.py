"""Malformed scenarios and arguments: one line naming the field, exit 2, no traceback,
nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from woonsim_cli import main

GOOD = """\
kind: stylized
name: t
time_unit: month
measure: {warmup: 1, window: 10, tail: 1}
vacancies: {rate: 10}
allocation: {rule: fifo}
groups:
  - {name: a, rate: 3}
  - {name: b, rate: 2, patience: 4}
"""

# (case, text transformation, expected start of the error message after "woonsim: error: ")
CASES = [
    (
        "unknown key",
        lambda s: s.replace("rate: 3}", "rate: 3, colour: red}"),
        "groups[0].colour: unknown key",
    ),
    ("unknown top-level key", lambda s: s + "horizon: 20\n", "horizon: unknown key"),
    (
        "wrong type",
        lambda s: s.replace("rate: 3}", "rate: three}"),
        "groups[0].rate: input should be a valid number",
    ),
    (
        "bool as number",
        lambda s: s.replace("rate: 10}", "rate: true}"),
        "vacancies.rate: input should be a valid number",
    ),
    (
        "negative rate",
        lambda s: s.replace("rate: 3}", "rate: -3}"),
        "groups[0].rate: input should be greater than or equal to 0",
    ),
    (
        "negative vacancy rate",
        lambda s: s.replace("rate: 10}", "rate: -1}"),
        "vacancies.rate: input should be greater than or equal to 0",
    ),
    (
        "infinite patience",
        lambda s: s.replace("patience: 4", "patience: .inf"),
        "groups[1].patience: input should be a finite number",
    ),
    (
        "NaN window",
        lambda s: s.replace("window: 10", "window: .nan"),
        "measure.window: input should be a finite number",
    ),
    (
        "zero patience",
        lambda s: s.replace("patience: 4", "patience: 0"),
        "groups[1].patience: input should be greater than 0",
    ),
    (
        "quota share above 1",
        lambda s: s.replace("{rule: fifo}", "{rule: quota, quota: {share: 1.5, groups: [a]}}"),
        "allocation.quota.share: input should be less than or equal to 1",
    ),
    (
        "quota share below 0",
        lambda s: s.replace("{rule: fifo}", "{rule: quota, quota: {share: -0.1, groups: [a]}}"),
        "allocation.quota.share: input should be greater than or equal to 0",
    ),
    (
        "unknown quota group",
        lambda s: s.replace("{rule: fifo}", "{rule: quota, quota: {share: 0.3, groups: [c]}}"),
        "allocation.quota.groups[0]: unknown group 'c'",
    ),
    (
        "quota rule without quota",
        lambda s: s.replace("{rule: fifo}", "{rule: quota}"),
        "allocation.quota: required when rule is quota",
    ),
    (
        "unknown unused",
        lambda s: s.replace(
            "{rule: fifo}", "{rule: quota, quota: {share: 0.3, groups: [a], unused: keep}}"
        ),
        "allocation.quota.unused: input should be 'pass_on' or 'lose'",
    ),
    (
        "unknown rule",
        lambda s: s.replace("{rule: fifo}", "{rule: points}"),
        "allocation.rule: input should be 'fifo', 'lottery', 'priority' or 'quota'",
    ),
    (
        "priority rule without priority group",
        lambda s: s.replace("{rule: fifo}", "{rule: priority}"),
        "allocation.rule: priority needs at least one group with priority: true",
    ),
    (
        "empty groups",
        lambda s: s[: s.index("groups:")] + "groups: []\n",
        "groups: needs at least 1 item(s), got 0",
    ),
    (
        "duplicate group",
        lambda s: s.replace("name: b", "name: a"),
        "groups[1].name: duplicate group name 'a'",
    ),
    (
        "missing key",
        lambda s: s.replace("time_unit: month\n", ""),
        "time_unit: required key is missing",
    ),
    (
        "zero window",
        lambda s: s.replace("window: 10", "window: 0"),
        "measure.window: input should be greater than or equal to 0.000001",
    ),
    (
        "unknown kind",
        lambda s: s.replace("kind: stylized", "kind: galaxy"),
        "kind: unknown scenario kind 'galaxy'",
    ),
    (
        "duplicate key",
        lambda s: s.replace("vacancies: {rate: 10}", "vacancies: {rate: 10}\nvacancies: {rate: 1}"),
        "{path}: vacancies: key given twice in one mapping (lines 5 and 6)",
    ),
    (
        "nested 1,000 deep",
        lambda s: s + "extra: " + "[" * 1000 + "]" * 1000 + "\n",
        "{path}: line 10: nested deeper than 32 levels",
    ),
    (
        "infinite years in YAML",
        lambda s: s.replace("window: 10", "window: 1e400"),
        "measure.window: input should be a finite number",
    ),
    (
        "huge window",
        lambda s: s.replace("window: 10", "window: 1e300"),
        "measure.window: input should be less than or equal to 1000000",
    ),
    (
        "too large to fit in memory",
        lambda s: s.replace("rate: 3}", "rate: 1e7}").replace("window: 10", "window: 1e5"),
        "size: about 1e+12 seekers",
    ),
    (
        "a window that vanishes",
        lambda s: s.replace("window: 10", "window: 1e-14"),
        "measure.window: input should be greater than or equal to 0.000001",
    ),
    ("not a mapping", lambda s: "- just\n- a list\n", "scenario: expected a mapping"),
    ("invalid YAML", lambda s: s.replace("measure: {", "measure: ["), "{path}: invalid YAML"),
]


@pytest.mark.parametrize(("case", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_scenario(tmp_path, capsys, case, edit, expected):
    path = tmp_path / "scenario.yaml"
    path.write_text(edit(GOOD))
    out = tmp_path / "out"
    code = main(["run", str(path), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("woonsim: error: " + expected.format(path=path)), err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["scenario.yaml"]  # no temp dirs left


REFERENCE_EXAMPLE = """\
kind: stylized
name: V2 strict priority
time_unit: month            # a label; every rate is per this unit
measure: {warmup: 300, window: 20000, tail: 3000}
vacancies: {rate: 10}       # Poisson
allocation:
  rule: priority            # fifo | lottery | priority | quota
  order: fifo               # order within a list: fifo | lottery (default fifo)
  quota: {share: 0.35, groups: [priority], unused: pass_on}   # rule: quota only
groups:
  - {name: priority, rate: 3, priority: true}
  - {name: regular, rate: 6, patience: null}  # patience = mean of an exponential
"""


def test_the_issues_example_loads_as_written(tmp_path):
    """The format is an interface: the specification's example loads unchanged, and its
    quota block (used only by rule quota) does not change the priority run."""
    from woonsim import load_scenario, run

    path = tmp_path / "example.yaml"
    path.write_text(REFERENCE_EXAMPLE)
    sc = load_scenario(path)
    assert sc.allocation.rule == "priority" and sc.allocation.quota.share == 0.35
    short = sc.model_copy(
        update={"measure": sc.measure.model_copy(update={"window": 200.0, "tail": 50.0})}
    )
    no_quota = short.model_copy(
        update={"allocation": short.allocation.model_copy(update={"quota": None})}
    )
    assert run(short, 1).let_to.tolist() == run(no_quota, 1).let_to.tolist()


def test_quota_block_is_validated_even_when_unused(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(REFERENCE_EXAMPLE.replace("groups: [priority]", "groups: [urgent]"))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    assert "allocation.quota.groups[0]: unknown group 'urgent'" in capsys.readouterr().err


def test_good_scenario_runs(tmp_path, capsys):
    path = tmp_path / "scenario.yaml"
    path.write_text(GOOD)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--seed", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "measures.parquet",
        "seekers.parquet",
        "summary.json",
        "vacancies.parquet",
    ]


@pytest.mark.parametrize(
    ("what", "make"),
    [
        ("missing file", lambda d: d / "nope.yaml"),
        ("directory", lambda d: d),
        ("not UTF-8", lambda d: (d / "bin.yaml").write_bytes(b"\xff\xfe\x00") and d / "bin.yaml"),
    ],
)
def test_unreadable_file(tmp_path, capsys, what, make):
    path = make(tmp_path)
    code = main(["run", str(path), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(f"woonsim: error: {path}: ")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["run", "x.yaml", "--seed", "-1"],
        ["run", "x.yaml", "--seed", "seven"],
        ["validate", "--replications", "1"],
        ["validate", "--cases", "v9"],
        ["frobnicate"],
    ],
)
def test_bad_arguments(capsys, args):
    try:
        code = main(args)
    except SystemExit as e:  # argparse exits itself
        code = e.code
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("woonsim: error: "), err


def test_out_is_a_file(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(GOOD)
    (tmp_path / "taken").write_text("x")
    assert main(["run", str(path), "--out", str(tmp_path / "taken")]) == 2
    assert "--out" in capsys.readouterr().err


def test_real_process_prints_no_traceback(tmp_path):
    """The installed console script, in its own process."""
    path = tmp_path / "s.yaml"
    path.write_text(GOOD.replace("rate: 3}", "rate: -3}"))
    woonsim = Path(sys.executable).with_name("woonsim")
    p = subprocess.run(
        [str(woonsim), "run", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert p.returncode == 2
    assert p.stderr.strip().splitlines() == [
        "woonsim: error: groups[0].rate: input should be greater than or equal to 0 (got -3)"
    ]
    assert "Traceback" not in p.stderr and p.stdout == ""
    assert not (tmp_path / "o").exists()


def test_run_replaces_an_earlier_run_as_a_set(tmp_path, capsys):
    """A second run into the folder of an earlier one leaves no stale file beside the new
    ones (a region run's yearly.parquet, here, after a stylized run)."""
    region = Path(__file__).parent / "data" / "tiny_region.yaml"
    stylized = tmp_path / "s.yaml"
    stylized.write_text(GOOD)
    out = tmp_path / "out"
    assert main(["run", str(region), "--out", str(out)]) == 0
    assert (out / "yearly.parquet").exists()
    (out / ".leftover.abc.tmp").write_text("x")
    assert main(["run", str(stylized), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "measures.parquet",
        "seekers.parquet",
        "summary.json",
        "vacancies.parquet",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.yaml"]  # no temp dirs


def test_run_refuses_a_folder_that_is_not_an_earlier_run(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(GOOD)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert main(["run", str(path), "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"woonsim: error: --out: {mine}: not empty and holds no earlier output (no "
        "summary.json; it holds thesis.tex); choose a new or empty folder\n"
    )
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]


def test_a_run_that_would_not_fit_under_ulimit_v_is_refused(tmp_path):
    """Under an address-space limit (`ulimit -v`, as on shared servers and in the fuzz
    harness) a run is sized against what the limit leaves, not against the machine's
    memory: a run of 1.2 GB is refused under 1 GiB, with one line and nothing written, where the
    machine alone would have let it run into a MemoryError."""
    import resource
    import subprocess
    import sys

    from woonsim.size import estimate

    text = GOOD.replace("window: 10", "window: 200000")
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    from woonsim.scenario import load_scenario

    assert 1e9 < estimate(load_scenario(path)).bytes < 2e9

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))

    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "woonsim_cli", "run", str(path), "--out", str(out)]
    p = subprocess.run(cmd, preexec_fn=limit, capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert p.stderr.count("\n") == 1 and p.stderr.startswith("woonsim: error: size: "), p.stderr
    assert "ulimit -v" in p.stderr
    assert not out.exists()
