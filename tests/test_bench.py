"""The benchmark's process timer (no timed assertions: only that it measures and fails
loudly)."""

from __future__ import annotations

import sys

import pytest

from woonsim_experiments.bench_model import time_process


def test_time_process_reports_wall_time_and_peak_memory(tmp_path):
    code = "x = bytearray(64 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096])"
    wall, mib = time_process([sys.executable, "-c", code], tmp_path)
    assert wall > 0
    assert mib >= 64  # the 64 MiB it touched


def test_time_process_names_a_failing_command(tmp_path):
    with pytest.raises(RuntimeError, match="exit 3: boom"):
        time_process([sys.executable, "-c", "import sys; sys.exit('boom') if 0 else None;"
                      " print('boom', file=sys.stderr); sys.exit(3)"], tmp_path)  # fmt: skip


def test_measure_process_counts_the_whole_tree_and_keeps_stdout(tmp_path):
    from woonsim_experiments.bench_model import measure_process

    child = (
        "import time; x = bytearray(96 * 1024 * 1024); "
        "x[::4096] = b'1' * len(x[::4096]); time.sleep(0.5)"
    )
    code = (
        "import subprocess, sys\n"
        f"subprocess.run([sys.executable, '-c', {child!r}], check=True)\n"
        "print('stages', 1)\n"
    )
    t = measure_process([sys.executable, "-c", code], tmp_path)
    assert t.stdout.strip() == "stages 1"
    assert t.tree_mib >= 96  # the child's 96 MiB, seen while it ran
    assert t.peak_mib >= 96  # wait4: the largest process of the tree
