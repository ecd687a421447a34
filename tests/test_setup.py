"""The set-up promises: pins agree across pyproject.toml, environment.yml and
requirements.lock; CI runs the README's test command; the README opens with the two
commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(lines) -> dict[str, str]:
    out = {}
    for line in lines:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;]+)\s*", line)
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(3)
    return out


def test_pyproject_pins_everything_exactly():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = [d for x in proj["optional-dependencies"].values() for d in x]
    deps += proj["dependencies"]
    assert len(_pins(deps)) == len(deps), "every dependency is pinned with =="


def test_environment_yml_agrees_with_pyproject():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = proj["optional-dependencies"]
    pyproject = _pins(proj["dependencies"] + [d for x in extras.values() for d in x])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert _pins(pip) == pyproject
    assert "python=3.12" in env["dependencies"]


def test_lock_agrees_with_pyproject():
    proj = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = proj["optional-dependencies"]
    pyproject = _pins(proj["dependencies"] + extras["dev"] + extras["ema"] + extras["dashboard"])
    lock = _pins((ROOT / "requirements.lock").read_text().splitlines())
    for name, version in pyproject.items():
        assert lock.get(name) == version, name
    assert "networkx" in lock  # mesa[network]: without it `import mesa` fails


def test_python_version_file():
    assert (ROOT / ".python-version").read_text().strip() == "3.12"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:sh|bash)?\n(.*?)```", readme, re.S).group(1)
    commands = [c.split("#")[0].strip() for c in first_block.splitlines() if c.strip()]
    assert commands[:2] == ["make run", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_readme_python_api_runs():
    """The README's Python API block runs as written (on the small test region, so that
    it takes a second)."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    code = block.replace(
        "experiments/scenarios/haaglanden.yaml", str(ROOT / "tests" / "data" / "tiny_region.yaml")
    ).replace(
        "experiments/scenarios/stylized_region.yaml",
        str(ROOT / "experiments" / "scenarios" / "stylized_region.yaml"),
    )
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["result"].summary()["region"]["lettings_per_year"] > 0
