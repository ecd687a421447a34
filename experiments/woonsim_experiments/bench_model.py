"""`woonsim bench --scale region|scaling|experiment-run|national`: whole-process timings
of the real model, as a user runs it: each repeat is a fresh `woonsim` process, timed from
start to exit, with the peak resident memory of its process tree (the process and any
workers it waited for, from `wait4`). Medians of the repeats; no timed tests anywhere.

- `region`: `woonsim run` on the default region (Haaglanden, 5 + 20 years);
- `experiment-run`: one run of the main job (`experiments/quota_haaglanden.yaml`, the 30%
  floor, replication 0), through the experiment layer's `run_one`;
- `scaling`: the default region's first 1, 2, 4 and all 9 municipalities over a short
  horizon (2 + 3 years), with the log-log slope of time against households;
- `national`: `woonsim national` on the national scenario (minutes).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["MODEL_SCALES", "benchmark_model", "time_process"]

MODEL_SCALES = ("region", "experiment-run", "scaling", "national")


def time_process(argv: list[str], cwd: str | Path) -> tuple[float, float]:
    """(wall seconds, peak resident MiB of the process tree) of one command."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace").strip().splitlines()
        raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}: {err[-1] if err else ''}")
    proc.stderr.close()
    return wall, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def _woonsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "woonsim_cli", *args]


def _experiment_run(repo: Path) -> list[str]:
    code = (
        "from woonsim_experiments.experiment import load_experiment\n"
        "from woonsim_experiments.runner import run_one\n"
        f"exp = load_experiment({str(repo / 'experiments' / 'quota_haaglanden.yaml')!r})\n"
        "spec = next(r for r in exp.runs() if r.variant == '30% floor' and r.replication == 0)\n"
        "run_one(spec)\n"
    )
    return [sys.executable, "-c", code]


def _scaled_region(repo: Path, n: int, folder: Path) -> Path:
    import yaml

    from woonsim.scenario import load_scenario

    d = load_scenario(repo / "experiments" / "scenarios" / "haaglanden.yaml").model_dump(
        mode="json"
    )
    d["municipalities"] = d["municipalities"][:n]
    d["burn_in_years"], d["years"] = 2, 3
    path = folder / f"region_{n}.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    return path


def _households(path: Path) -> int:
    from woonsim.data import region
    from woonsim.scenario import load_scenario

    return int(region(load_scenario(path).municipalities)["households_2024"].sum())


def benchmark_model(scale: str, repeats: int, repo: Path, out=sys.stdout) -> int:
    """Print medians (and min, max) of wall time and peak memory over `repeats` runs."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if scale == "scaling":
            rows = []
            for n in (1, 2, 4, 9):
                path = _scaled_region(repo, n, work)
                times = [
                    time_process(_woonsim("run", str(path), "--seed", str(r), "--out",
                                          str(work / f"o{n}-{r}")), work)[0]
                    for r in range(repeats)
                ]  # fmt: skip
                rows.append((n, _households(path), statistics.median(times)))
                print(f"  {n} municipalities: {rows[-1][2]:.2f} s", file=sys.stderr)
            print(f"scaling: default region, 2 + 3 years, median of {repeats} runs", file=out)
            print("  municipalities  households   seconds", file=out)
            for n, h, s in rows:
                print(f"  {n:>14} {h:>11,} {s:9.2f}", file=out)
            x = [math.log(h) for _, h, _ in rows]
            y = [math.log(s) for *_, s in rows]
            slope = statistics.linear_regression(x, y).slope
            print(f"  log-log slope of time against households: {slope:.2f}", file=out)
            return 0
        if scale == "region":
            argv = _woonsim("run", str(repo / "experiments/scenarios/haaglanden.yaml"), "--seed")
            label = "default region (Haaglanden, 5 + 20 years), `woonsim run`"
        elif scale == "experiment-run":
            label = "one run of the main job (30% floor, 5 + 10 years), `run_one`"
        else:
            argv = _woonsim("national", str(repo / "experiments/scenarios/national.yaml"), "--seed")
            label = "national run, `woonsim national`"
        walls, mems = [], []
        for r in range(repeats):
            if scale == "experiment-run":
                cmd = _experiment_run(repo)
            else:
                cmd = [*argv, str(r + 1), "--out", str(work / f"out-{r}")]
            w, m = time_process(cmd, work)
            walls.append(w)
            mems.append(m)
            print(f"  run {r + 1}/{repeats}: {w:.2f} s, {m:.0f} MiB", file=sys.stderr)
        print(f"benchmark {label}: median of {repeats} whole-process runs", file=out)
        print(
            f"  wall        {statistics.median(walls):8.2f} s    "
            f"(min {min(walls):.2f}, max {max(walls):.2f})",
            file=out,
        )
        print(
            f"  peak memory {statistics.median(mems):8.0f} MiB  "
            f"(min {min(mems):.0f}, max {max(mems):.0f}; largest process of the tree)",
            file=out,
        )
    return 0
