"""Outputs get the ordinary modes (0777/0666 less the umask), whatever woonsim imports."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from woonsim.files import write_atomically, write_bytes_atomically

ROOT = Path(__file__).resolve().parents[1]


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = write_atomically(tmp_path / "run", lambda d: (d / "a.txt").write_text("x"))
        write_bytes_atomically(tmp_path / "b.bin", b"y")
    finally:
        os.umask(old)
    assert _mode(out) == 0o755  # not mkdtemp's 0700: colleagues can open a shared report
    assert _mode(out / "a.txt") == 0o644
    assert _mode(tmp_path / "b.bin") == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "run"]  # no leftovers


def test_importing_woonsim_leaves_the_umask_alone():
    code = (
        "import os; os.umask(0o027)\n"
        "import woonsim, woonsim_experiments.runner, woonsim_experiments.report, woonsim_cli\n"
        "print(oct(os.umask(0)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0o27"


def test_woonsim_run_output_folder_is_group_readable(tmp_path):
    scenario = ROOT / "experiments" / "woonsim_experiments" / "validation_cases" / "v1_fifo.yaml"
    args = ["run", str(scenario), "--seed", "1", "--out", str(tmp_path / "o")]
    code = (
        f"import os, sys; os.umask(0o022)\nfrom woonsim_cli import main\nsys.exit(main({args!r}))"
    )
    subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
    assert _mode(tmp_path / "o") == 0o755
    assert {p.name for p in (tmp_path / "o").iterdir()} >= {"summary.json", "measures.parquet"}
