"""Installed means runnable: the wheel, installed into a fresh virtual environment outside
the repository, runs a small region from there (its data come from inside the package)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with the built wheel; third-party dependencies are borrowed from the
    test environment through a .pth file (so no download), woonsim itself is not."""
    tmp = tmp_path_factory.mktemp("wheel")
    wheels = tmp / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(wheels),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("woonsim-*.whl"))
    env = tmp / "venv"
    venv.create(env, with_pip=False)
    py = env / "bin" / "python"
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(site, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(py),
            "install",
            "--quiet",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        capture_output=True,
    )
    return tmp, env, wheel


def test_wheel_ships_the_runtime_data(installed):
    _, _, wheel = installed
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ("municipalities_2025.csv", "national_2025.json", "targets.csv"):
        assert f"woonsim/calibration_data/{f}" in names
    assert not any(n.startswith("model/") or n.startswith("tests/") for n in names)


def test_installed_wheel_runs_a_region_outside_the_repository(installed):
    tmp, env, _ = installed
    work = tmp / "elsewhere"
    work.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "tiny_region.yaml", work / "region.yaml")
    where = subprocess.run(
        [str(env / "bin" / "python"), "-c", "import woonsim; print(woonsim.__file__)"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(env), where  # the wheel, not the repository
    out = subprocess.run(
        [str(env / "bin" / "woonsim"), "run", "region.yaml", "--seed", "1", "--out", "out"],
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    summary = json.loads((work / "out" / "summary.json").read_text())
    assert summary["region"]["lettings_per_year"] > 0
    assert (work / "out" / "measures.parquet").exists()
