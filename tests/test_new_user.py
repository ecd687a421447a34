"""What stopped a new user (issue 15): a run that says nothing until it ends, municipality
codes one cannot find, and errors that do not say what would have been valid."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from woonsim import ScenarioError, load_scenario, parse_scenario, run
from woonsim.data import municipalities, near_municipalities
from woonsim.outputs import write_run
from woonsim.paths import set_path
from woonsim_cli import main
from woonsim_cli.commands import run_with_progress

ROOT = Path(__file__).resolve().parents[1]
TINY = Path(__file__).parent / "data" / "tiny_region.yaml"


def _tiny(tmp_path: Path, burn_in: int, years: int) -> Path:
    d = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    d.update(burn_in_years=burn_in, years=years)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    return path


def test_run_tells_its_progress_and_writes_what_a_silent_run_writes(tmp_path, capsys):
    """`woonsim run` prints the simulated year every 5 years (and at the end) on stderr,
    and its files are byte for byte those of `woonsim.run` (no output changes)."""
    path = _tiny(tmp_path, burn_in=6, years=2)
    assert main(["run", str(path), "--seed", "4", "--out", str(tmp_path / "cli")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert [line.split(" simulated")[0] for line in err] == [
        "woonsim run: 5 of 8",
        "woonsim run: 8 of 8",
    ]
    assert "(burn-in year 5 of 6)" in err[0] and "(year 2026)" in err[1]
    write_run(run(load_scenario(path), 4), tmp_path / "api")
    files = sorted(p.name for p in (tmp_path / "api").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "cli").iterdir())
    for name in files:
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()


def test_progress_on_a_terminal_is_one_updating_line(tmp_path):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    from woonsim.simulate import market_for

    stream = Tty()
    run_with_progress(market_for(load_scenario(_tiny(tmp_path, 2, 2)), 1), stream)
    text = stream.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1


def test_municipalities_command_lists_every_code_with_its_name(capsys):
    assert main(["municipalities"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].startswith("code\tname") and len(rows) == 1 + len(municipalities()) == 343
    assert main(["municipalities", "Den Haag", "delft"]) == 0
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert [r.split("\t")[:2] for r in rows] == [["GM0518", "'s-Gravenhage"], ["GM0503", "Delft"]]


@pytest.mark.parametrize("given", ["GM0519", "GM518", "Den Haag", "'s-Gravenhage", "gravenhage"])
def test_near_matches_of_a_code_or_a_name(given):
    assert near_municipalities(given)[0] == "GM0518 ('s-Gravenhage)"


@pytest.mark.parametrize("given", ["GM0519", "Den Haag"])
def test_unknown_municipality_error_points_to_the_list(tmp_path, capsys, given):
    d = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    d["municipalities"] = [given]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d), encoding="utf-8")
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("woonsim: error: municipalities")
    assert "GM0518 ('s-Gravenhage)" in err and "`woonsim municipalities`" in err
    assert not (tmp_path / "out").exists()


def test_a_wrong_group_name_lists_the_groups():
    d = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    with pytest.raises(ScenarioError, match=r"no group named 'starter' \(the groups: starters, "):
        set_path(d, "groups[starter].accept", 0.5)
    stylized = yaml.safe_load(
        (ROOT / "experiments/scenarios/stylized_region.yaml").read_text(encoding="utf-8")
    )
    stylized["allocation"]["quota"]["groups"] = ["urgent"]
    with pytest.raises(ScenarioError, match=r"\(the groups: aandachtsgroep, regular\)"):
        parse_scenario(stylized)


def test_a_wrong_mode_or_rule_lists_the_valid_ones():
    d = yaml.safe_load(TINY.read_text(encoding="utf-8"))
    d["allocation"]["quota"] = {"share": 0.3, "mode": "minimum"}
    with pytest.raises(ScenarioError, match="'none', 'floor', 'cap' or 'ring_fenced'"):
        parse_scenario(d)
