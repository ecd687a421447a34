"""Classify what the command line does with malformed and extreme input files (issue 16).

From the repository root, with the project's environment:

    .venv/bin/python experiments/fuzz_inputs.py -n 200 --workers 1 --seed 16

generates `n` inputs per kind (stylized scenario, region scenario, experiment file) from a
seeded random generator (the same seed gives the same files), runs each through
`woonsim run` or `woonsim experiment ... --workers 1 --no-report` in its own process with a
timeout (`--timeout`, default 60 s) and an address-space limit (`--memory-gb`, default 4),
and prints the class table of the issue:

- clean rejection: exit 2, one stderr line `woonsim: error: ...`, nothing written;
- accepted, ran OK: exit 0, a complete output (summary.json or manifest.json);
- invariant failure: exit 3, one line (a bug in woonsim, reported as such);
- traceback: a Python traceback on stderr;
- memory blow-up: MemoryError, or killed by the memory limit;
- hang: over the timeout with nothing printed (`slow`, if it printed progress);
- half-written output: any other failure that leaves files or temporary files behind.

Each input is a base file (tests/data) with one to three edits: a value replaced by an
extreme or malformed one (infinities, NaN, huge and tiny numbers, wrong types), a key
deleted or added, or a YAML-level defect (a duplicate key, deep nesting, a non-finite
token, a truncated file, binary junk); the defects listed in the issue come first.
`--keep DIR` keeps every input file and its class (cases.jsonl).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
KINDS = ("stylized", "region", "experiment")
CLASSES = (
    "clean rejection",
    "accepted, ran OK",
    "invariant failure",
    "traceback",
    "memory blow-up",
    "hang",
    "slow (printed progress)",
    "half-written output",
)

STYLIZED = {
    "kind": "stylized",
    "name": "fuzz",
    "time_unit": "month",
    "measure": {"warmup": 5, "window": 100, "tail": 5},
    "vacancies": {"rate": 10},
    "allocation": {"rule": "quota", "quota": {"share": 0.3, "groups": ["a"], "unused": "lose"}},
    "groups": [{"name": "a", "rate": 3, "patience": 4}, {"name": "b", "rate": 6}],
}
REGION = yaml.safe_load((DATA / "tiny_region.yaml").read_text(encoding="utf-8"))
EXPERIMENT = {
    "name": "fuzz",
    "base": "tiny_region.yaml",
    "replications": 2,
    "root_seed": 7,
    "baseline": "current practice",
    "variants": [
        {"name": "current practice", "set": {}},
        {"name": "floor", "set": {"allocation.quota": {"share": 0.3, "mode": "floor"}}},
    ],
    "horizon": {"burn_in_years": 0.5, "years": 0.5},
}
BASES = {"stylized": STYLIZED, "region": REGION, "experiment": EXPERIMENT}

EVIL = [
    0, -1, 1, 0.0, 1e-14, 1e-300, 1e12, 1e300, -1e300, 10**30, 2**63, 0.5, 0.3333333,
    True, False, None, "", "x", "1e5", [], [1, 2], {}, {"a": 1}, math.inf, -math.inf,
    math.nan, 1e5, 1e6, 1e9, 0.999999, 1.0, 2.0, "GM0339", "GM9999",
]  # fmt: skip

# the issue's defects, as edits of the base files: (path, value)
ISSUE = {
    "stylized": [
        [("groups.1.patience", math.inf)],
        [("measure.window", 1e300)],
        [("measure.warmup", 1e12)],
        [("groups.0.rate", 1e5), ("measure.window", 1e4)],
        [("vacancies.rate", 0)],
        [("measure.window", 1e-14)],
        [("measure.window", 2.2e-309)],
        [("allocation.quota.share", 1.0)],
    ],
    "region": [
        [("flows.notice_weeks", math.inf)],
        [("years", math.inf)],
        [("groups.0.inflow_per_1000_households", 1e12)],
        [("flows.departure_rate", 0), ("construction.per_1000_dwellings", 0)],
        [("years", 0.25), ("burn_in_years", 0)],
        [("municipalities", ["GM0339"])],
        [("burn_in_years", 0.5), ("years", 0.5)],
        [("burn_in_years", 1.5), ("years", 1.5)],
        [("groups.0.household.size", [0.3333333, 0.3333333, 0.3333333])],
        [("stock", {"youth_label_share": 0.9, "senior_label_share": 0.9})],
        [("flows.departure_rate", 1.0)],
        [("allocation.own_municipality_weight", 1e17)],
        *[[(f"groups.{i}.weekly_activity", 0) for i in range(9)]],
    ],
    "experiment": [
        [("horizon.years", math.inf)],
        [("replications", 1_000_000)],
        [
            ("uncertainties", [{"path": "flows.departure_rate", "low": 0.02, "high": 0.03}]),
            ("design", {"kind": "lhs", "samples": 10_000_000}),
        ],
        [("horizon.years", 1e-9)],
        [("horizon.years", 1e12)],
        [("variants", [{"name": "current practice", "set": {}}])],
    ],
}


def _nodes(doc, prefix=()):
    out = []
    if isinstance(doc, dict):
        items = doc.items()
    else:
        items = enumerate(doc) if isinstance(doc, list) else []
    for k, v in items:
        out.append((*prefix, k))
        out += _nodes(v, (*prefix, k))
    return out


def _set(doc, path, value) -> None:
    *head, last = path
    for k in head:
        doc = doc[int(k) if isinstance(doc, list) else k]
    doc[int(last) if isinstance(doc, list) else last] = value


def _value(rng: random.Random):
    pick = rng.random()
    if pick < 0.6:
        return copy.deepcopy(rng.choice(EVIL))
    if pick < 0.8:
        return rng.uniform(-10, 1e3) * rng.choice([1, 1e-6, 1e3])
    return rng.randint(-(10**6), 10**6)


def generate(kind: str, rng: random.Random) -> tuple[str, str]:
    """One input file's text and a short description of its edits."""
    doc = copy.deepcopy(BASES[kind])
    edits = []
    for _ in range(rng.randint(1, 3)):
        paths = _nodes(doc)
        path = rng.choice(paths)
        op = rng.random()
        parent = doc
        for k in path[:-1]:
            parent = parent[k]
        if op < 0.7:
            value = _value(rng)
            parent[path[-1]] = value
            edits.append(f"{'.'.join(map(str, path))}={value!r}")
        elif op < 0.85 and isinstance(parent, dict):
            del parent[path[-1]]
            edits.append(f"del {'.'.join(map(str, path))}")
        elif isinstance(parent, dict):
            parent[f"extra{rng.randint(0, 9)}"] = _value(rng)
            edits.append(f"add key under {'.'.join(map(str, path[:-1])) or 'top'}")
    text = yaml.safe_dump(doc, sort_keys=False)
    defect = rng.random()
    if defect < 0.06:
        lines = text.splitlines(keepends=True)
        i = rng.randrange(len(lines))
        text = "".join([*lines[: i + 1], lines[i], *lines[i + 1 :]])
        edits.append(f"line {i + 1} twice")
    elif defect < 0.09:
        n = rng.choice([50, 200, 1000, 5000])
        text += "deep: " + "[" * n + "]" * n + "\n"
        edits.append(f"nesting {n}")
    elif defect < 0.12:
        text = text[: rng.randrange(len(text))]
        edits.append("truncated")
    elif defect < 0.14:
        text = bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))).decode("latin-1")
        edits.append("binary junk")
    return text, "; ".join(edits)


def issue_case(kind: str, edits) -> tuple[str, str]:
    doc = copy.deepcopy(BASES[kind])
    for path, value in edits:
        _set(doc, path.split("."), value)
    return yaml.safe_dump(doc, sort_keys=False), "issue: " + "; ".join(
        f"{p}={v!r}" for p, v in edits
    )


def _limit(memory_gb: float):
    def preexec() -> None:
        limit = int(memory_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        os.setsid()

    return preexec


def classify(kind: str, text: str, args, work: Path) -> tuple[str, str]:
    """Run one input through the command line in `work`; returns (class, detail)."""
    work.mkdir(parents=True)
    shutil.copy(DATA / "tiny_region.yaml", work / "tiny_region.yaml")
    (work / "input.yaml").write_text(text, encoding="utf-8", errors="surrogateescape")
    woonsim = Path(sys.executable).with_name("woonsim")
    cmd = [str(woonsim), "run", "input.yaml", "--out", "out", "--seed", "1"]
    if kind == "experiment":
        cmd = [str(woonsim), "experiment", "input.yaml", "--out", "out", "--workers", "1"]
        cmd.append("--no-report")
    before = {"input.yaml", "tiny_region.yaml"}
    try:
        p = subprocess.run(
            cmd,
            cwd=work,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=args.timeout,
            preexec_fn=_limit(args.memory_gb),
        )
    except subprocess.TimeoutExpired as err:
        printed = (err.stderr or b"") + (err.stdout or b"")
        return ("slow (printed progress)" if printed else "hang"), f"over {args.timeout} s"
    err = p.stderr
    left = sorted(set(os.listdir(work)) - before)
    out = work / "out"
    temps = [str(q) for q in work.rglob("*.tmp")]
    last = err.strip().splitlines()[-1] if err.strip() else ""
    if "MemoryError" in err or p.returncode in (-9, -11):
        return "memory blow-up", last or f"killed by signal {-p.returncode}"
    if "Traceback" in err:
        return "traceback", err.strip().splitlines()[-1]
    lines = err.strip().splitlines()
    if p.returncode == 2 and len(lines) == 1 and lines[0].startswith("woonsim: error: "):
        if left or temps:
            return "half-written output", f"{lines[0]} (left {left + temps})"
        return "clean rejection", lines[0]
    if p.returncode == 3 and lines and lines[-1].startswith("woonsim: error: invariant"):
        return "invariant failure", lines[-1]
    if p.returncode == 0:
        need = "manifest.json" if kind == "experiment" else "summary.json"
        complete = (out / need).is_file() and not temps
        if complete and kind != "experiment":
            json.loads((out / need).read_text(encoding="utf-8"))
        if complete:
            return "accepted, ran OK", ""
        return "half-written output", f"exit 0 without a complete {out}"
    return "half-written output", f"exit {p.returncode}: {lines[-1] if lines else ''}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200, help="inputs per kind (default 200)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--workers", type=int, default=1, help="inputs run at once (default 1)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per input")
    ap.add_argument("--memory-gb", type=float, default=4.0, help="address-space limit")
    ap.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    ap.add_argument("--keep", help="keep the inputs and cases.jsonl in this folder")
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    cases = []
    for kind in args.kinds:
        fixed = [issue_case(kind, e) for e in ISSUE[kind]][: args.n]
        cases += [(kind, *c) for c in fixed]
        cases += [(kind, *generate(kind, rng)) for _ in range(args.n - len(fixed))]
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="woonsim-fuzz-"))
    root.mkdir(parents=True, exist_ok=True)

    def one(i_case):
        i, (kind, text, what) = i_case
        cls, detail = classify(kind, text, args, root / f"{kind}-{i:04d}")
        return {"case": i, "kind": kind, "edits": what, "class": cls, "detail": detail}

    with ThreadPoolExecutor(args.workers) as ex:
        results = []
        for k, r in enumerate(ex.map(one, enumerate(cases)), start=1):
            results.append(r)
            if k % 25 == 0 or k == len(cases):
                print(f"fuzz: {k}/{len(cases)} inputs", file=sys.stderr, flush=True)
    (root / "cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    counts = Counter((r["class"], r["kind"]) for r in results)
    print(f"| class | {' | '.join(args.kinds)} | total |")
    print(f"|---|{'---|' * len(args.kinds)}---|")
    for cls in CLASSES:
        row = [counts[(cls, k)] for k in args.kinds]
        if sum(row) or cls in CLASSES[:2] or cls in ("traceback", "memory blow-up", "hang"):
            print(f"| {cls} | {' | '.join(map(str, row))} | {sum(row)} |")
    per_kind = [str(sum(counts[(c, k)] for c in CLASSES)) for k in args.kinds]
    print(f"| total | {' | '.join(per_kind)} | {len(results)} |")
    bad = [r for r in results if r["class"] not in CLASSES[:2]]
    for r in bad[:20]:
        print(f"{r['kind']} #{r['case']} {r['class']}: {r['edits']} -> {r['detail']}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"inputs and cases.jsonl in {root}")
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
