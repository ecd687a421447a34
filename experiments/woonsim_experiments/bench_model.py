"""`woonsim bench --scale region|scaling|experiment-run|national`: whole-process timings
of the real model, as a user runs it. Each repeat is a fresh process, timed from start to
exit; medians over the repeats; no timed tests anywhere.

- `region`: the default region (Haaglanden, its own horizon) as `woonsim run` does it, with
  stage medians (imports, build, simulate, results and invariants, measures and write);
- `experiment-run`: one run of the main job (`experiments/quota_haaglanden.yaml`, the 30%
  floor, replication 0) as the experiment layer's `run_one` does it, with stage medians;
- `scaling`: the default region's first 1, 2, 4 and all 9 municipalities over a short
  horizon (2 + 3 years), with the log-log slope of time against households;
- `national`: `woonsim national` as the national scenario runs it, each region with the
  warm-up its steady state needs (its own scenario's burn-in) and 10 reported years, its
  per-region tasks on 1 and on 2 local workers and on a local Dask cluster of 2 workers
  (`woonsim_experiments.cluster`), with the parallel efficiency of each against 1.

Memory is reported twice: the peak of the largest process (`wait4`) and the peak of the
whole process tree (the process and its workers, sampled every 50 ms from /proc).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MODEL_SCALES", "ProcessTiming", "benchmark_model", "measure_process", "time_process"]

MODEL_SCALES = ("region", "experiment-run", "scaling", "national")


@dataclass(frozen=True)
class ProcessTiming:
    """One whole-process run: wall seconds, peak MiB of its largest process and of its
    whole tree, and what it printed on standard output."""

    wall: float
    peak_mib: float
    tree_mib: float
    stdout: str


def _tree_rss_kib(pid: int) -> int:
    """Resident KiB of a process and all its descendants now (0 once it is gone)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status", encoding="ascii") as f:
                total += next(int(x.split()[1]) for x in f if x.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as f:
                    todo.extend(int(c) for c in f.read().split())
        except (OSError, ValueError, StopIteration):
            continue
    return total


def measure_process(argv: list[str], cwd: str | Path) -> ProcessTiming:
    """Run a command to its end and measure it (`ProcessTiming`); a failing command
    raises RuntimeError with its exit status and the last line it wrote to stderr."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    streams: dict[str, bytes] = {}
    peak_tree, done = [0], threading.Event()

    def read(name: str, pipe) -> None:
        streams[name] = pipe.read()

    def sample() -> None:
        while not done.wait(0.05):
            peak_tree[0] = max(peak_tree[0], _tree_rss_kib(proc.pid))

    threads = [
        threading.Thread(target=read, args=("out", proc.stdout), daemon=True),
        threading.Thread(target=read, args=("err", proc.stderr), daemon=True),
        threading.Thread(target=sample, daemon=True),
    ]
    for th in threads:
        th.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    for th in threads:
        th.join()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        lines = streams.get("err", b"").decode(errors="replace").strip().splitlines()
        raise RuntimeError(
            f"{' '.join(argv)}: exit {proc.returncode}: {lines[-1] if lines else ''}"
        )
    peak = usage.ru_maxrss / 1024  # KiB on Linux: the largest process of the tree
    return ProcessTiming(wall, peak, max(peak_tree[0] / 1024, peak), streams["out"].decode())


def time_process(argv: list[str], cwd: str | Path) -> tuple[float, float]:
    """(wall seconds, peak resident MiB of the largest process) of one command."""
    t = measure_process(argv, cwd)
    return t.wall, t.peak_mib


def _woonsim(*args: str) -> list[str]:
    return [sys.executable, "-m", "woonsim_cli", *args]


# The stage scripts do what `woonsim run` and `run_one` do, timing each stage; they print
# the stage times as one JSON line.
_CLOCK = "import time, json\nt = [time.perf_counter()]\n"
_REGION_STAGES = _CLOCK + (
    "from woonsim.scenario import load_scenario\n"
    "from woonsim.simulate import market_for\n"
    "from woonsim.outputs import write_run\n"
    "t.append(time.perf_counter())\n"
    "m = market_for(load_scenario({scenario!r}), {seed})\n"
    "t.append(time.perf_counter())\n"
    "m.advance(m.n_cycles)\n"
    "t.append(time.perf_counter())\n"
    "r = m.result()\n"
    "t.append(time.perf_counter())\n"
    "write_run(r, {out!r})\n"
    "t.append(time.perf_counter())\n"
    "names = ['imports', 'build', 'simulate', 'results and invariants', 'measures and write']\n"
    "print(json.dumps(dict(zip(names, [b - a for a, b in zip(t, t[1:])]))))\n"
)
_EXPERIMENT_STAGES = _CLOCK + (
    "from woonsim_experiments.experiment import load_experiment\n"
    "from woonsim.simulate import market_for\n"
    "from woonsim.measures import run_metrics\n"
    "t.append(time.perf_counter())\n"
    "exp = load_experiment({experiment!r})\n"
    "spec = next(r for r in exp.runs() if r.variant == '30% norm' and r.replication == 0)\n"
    "m = market_for(spec.scenario, spec.seed)\n"
    "t.append(time.perf_counter())\n"
    "m.advance(m.n_cycles)\n"
    "t.append(time.perf_counter())\n"
    "r = m.result()\n"
    "t.append(time.perf_counter())\n"
    "run_metrics(r)\n"
    "t.append(time.perf_counter())\n"
    "names = ['imports', 'build', 'simulate', 'results and invariants', 'measures']\n"
    "print(json.dumps(dict(zip(names, [b - a for a, b in zip(t, t[1:])]))))\n"
)


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


def _national_10(repo: Path, folder: Path) -> Path:
    """The national scenario with 10 reported years after each region's own burn-in
    (paths made absolute)."""
    import yaml

    src = repo / "experiments" / "scenarios" / "national.yaml"
    d = yaml.safe_load(src.read_text(encoding="utf-8"))
    d["defaults"] = str(src.parent / d["defaults"])
    d["calibrated"] = {k: str(src.parent / v) for k, v in d.get("calibrated", {}).items()}
    d["burn_in_years"], d["years"] = None, 10
    path = folder / "national_10.yaml"
    path.write_text(yaml.safe_dump(d, sort_keys=False), encoding="utf-8")
    return path


def _households(path: Path) -> int:
    from woonsim.data import region
    from woonsim.scenario import load_scenario

    return int(region(load_scenario(path).municipalities)["households_2024"].sum())


def _median_line(label: str, xs: list[float], unit: str, fmt: str = "8.2f") -> str:
    return (
        f"  {label:<24}{statistics.median(xs):{fmt}} {unit}  (min {min(xs):.2f}, max {max(xs):.2f})"
    )


def _report(label: str, runs: list[ProcessTiming], out, stages: bool) -> None:
    print(f"benchmark {label}: median of {len(runs)} whole-process runs", file=out)
    print(_median_line("wall", [r.wall for r in runs], "s"), file=out)
    print(_median_line("peak memory, process", [r.peak_mib for r in runs], "MiB", "8.0f"), file=out)
    print(_median_line("peak memory, tree", [r.tree_mib for r in runs], "MiB", "8.0f"), file=out)
    if stages:
        parsed = [json.loads(r.stdout.strip().splitlines()[-1]) for r in runs]
        print("  stages (median seconds):", file=out)
        for name in parsed[0]:
            print(_median_line(f"  {name}", [p[name] for p in parsed], "s"), file=out)


def benchmark_model(scale: str, repeats: int, repo: Path, out=sys.stdout) -> int:
    """Print medians (and min, max) of wall time, peak memory and stages over `repeats`."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)

        def runs(make_argv) -> list[ProcessTiming]:
            got = []
            for r in range(repeats):
                got.append(measure_process(make_argv(r), work))
                w, m = got[-1].wall, got[-1].tree_mib
                print(f"  run {r + 1}/{repeats}: {w:.2f} s, {m:.0f} MiB", file=sys.stderr)
            return got

        if scale == "scaling":
            rows = []
            for n in (1, 2, 4, 9):
                path = _scaled_region(repo, n, work)
                times = [
                    r.wall
                    for r in runs(
                        lambda r, p=path, n=n: _woonsim(
                            "run", str(p), "--seed", str(r + 1), "--out", str(work / f"o{n}-{r}")
                        )
                    )
                ]
                rows.append((n, _households(path), statistics.median(times)))
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
            scenario = str(repo / "experiments/scenarios/haaglanden.yaml")
            got = runs(
                lambda r: [
                    sys.executable,
                    "-c",
                    _REGION_STAGES.format(scenario=scenario, seed=r + 1, out=str(work / f"o{r}")),
                ]
            )
            from woonsim.scenario import load_scenario

            sc = load_scenario(scenario)
            label = f"{sc.burn_in_years:g} + {sc.years:g} years"
            _report(f"default region (Haaglanden, {label}), as `woonsim run`", got, out, True)
            return 0
        if scale == "experiment-run":
            experiment = str(repo / "experiments" / "quota_haaglanden.yaml")
            code = _EXPERIMENT_STAGES.format(experiment=experiment)
            got = runs(lambda r: [sys.executable, "-c", code])
            _report(
                "one run of the main job (a variant of experiments/quota_haaglanden.yaml, its "
                "horizon), as `run_one`",
                got,
                out,
                True,
            )
            return 0
        path = str(_national_10(repo, work))
        walls = {}
        for workers in (1, 2):
            got = runs(
                lambda r, w=workers: _woonsim(
                    "national",
                    path,
                    "--seed",
                    str(r + 1),
                    "--workers",
                    str(w),
                    "--out",
                    str(work / f"n{w}-{r}"),
                )
            )
            _report(f"national run (own burn-in + 10 years), {workers} worker(s)", got, out, False)
            walls[workers] = statistics.median(r.wall for r in got)
        speedup = walls[1] / walls[2]
        print(
            f"  1 -> 2 workers: speed-up {speedup:.2f}x, parallel efficiency {speedup / 2:.0%}",
            file=out,
        )
        from woonsim_experiments.cluster import local_cluster

        with local_cluster(work, workers=2) as address:
            got = runs(
                lambda r: _woonsim(
                    "national", path, "--seed", str(r + 1), "--scheduler", address,
                    "--out", str(work / f"dask-{r}"),
                )
            )  # fmt: skip
        _report(
            "national run (own burn-in + 10 years), local Dask cluster of 2 workers "
            "(memory: the client only)",
            got,
            out,
            False,
        )
        speedup = walls[1] / statistics.median(r.wall for r in got)
        print(
            f"  1 worker -> Dask, 2 workers: speed-up {speedup:.2f}x, "
            f"parallel efficiency {speedup / 2:.0%}",
            file=out,
        )
    return 0
