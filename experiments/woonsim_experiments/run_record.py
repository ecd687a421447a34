"""The record of a results folder's finished runs: which run files are trusted.

A sweep writes each run file atomically, then appends `<run> <sha256>` to the journal
`checksums.log` (flushed and synced), and rewrites `manifest.json` from time to time and
at the end. A run file is *finished* when its bytes hash to the digest recorded for it, in
the journal or the manifest; a file without a record (written just before a kill) when
it reads whole and names its own run and experiment. A file with flipped bytes, or
another run's file under this name, is not finished: the resume runs it again (the same
bytes, since a run is a pure function of scenario and seed), and the report refuses to
read it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

__all__ = [
    "JOURNAL_FILE",
    "MANIFEST_FILE",
    "RUNS",
    "append_journal",
    "digest",
    "recorded",
    "verified",
]

RUNS = "runs"
MANIFEST_FILE = "manifest.json"
JOURNAL_FILE = "checksums.log"
_HEX = frozenset("0123456789abcdef")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_digest(s: object) -> bool:
    return isinstance(s, str) and len(s) == 64 and set(s) <= _HEX


def recorded(out: Path) -> dict[str, str]:
    """{run id: sha256} from the manifest and the journal (the journal, written after
    every run, wins). Unreadable entries, and a torn last line, are ignored."""
    out = Path(out)
    runs: dict[str, str] = {}
    try:
        doc = json.loads((out / MANIFEST_FILE).read_text(encoding="utf-8"))
        for row in doc.get("runs", []):
            ok = isinstance(row, dict) and isinstance(row.get("run"), str)
            if ok and _is_digest(row.get("sha256")):
                runs[row["run"]] = row["sha256"]
    except (OSError, ValueError, AttributeError):
        pass
    try:
        text = (out / JOURNAL_FILE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and _is_digest(parts[1]):
            runs[parts[0]] = parts[1]
    return runs


def append_journal(out: Path, run: str, sha: str) -> None:
    """Record one finished run (after its file is in place)."""
    with open(Path(out) / JOURNAL_FILE, "a", encoding="utf-8") as fh:
        fh.write(f"{run} {sha}\n")
        fh.flush()
        os.fsync(fh.fileno())


def _own_whole_file(f: Path, run: str, experiment_sha256: str) -> bool:
    """An unrecorded file is trusted when it reads whole and names this run of this
    experiment in its metadata and its `run` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(f, page_checksum_verification=True)
        meta = json.loads((table.schema.metadata or {}).get(b"woonsim", b"{}"))
        runs = set(table.column("run").to_pylist()) if "run" in table.column_names else set()
    except (OSError, ValueError, KeyError, pa.ArrowException):
        return False
    return (
        isinstance(meta, dict)
        and meta.get("run") == run
        and meta.get("experiment_sha256") == experiment_sha256
        and runs == {run}
    )


def verified(out: Path, run_ids, experiment_sha256: str) -> tuple[dict[str, str], list[str]]:
    """({run id: sha256} of the finished runs, [run ids whose file is not finished]).

    A file with a record is finished when its bytes match it; a file without one (written
    just before a kill, or the manifest lost) when it reads whole and names its own run
    and experiment. Flipped bytes, a truncated file and another run's file fail."""
    out = Path(out)
    record = recorded(out)
    good: dict[str, str] = {}
    bad: list[str] = []
    for run in run_ids:
        f = out / RUNS / f"{run}.parquet"
        if not f.is_file():
            continue
        sha = digest(f.read_bytes())
        known = record.get(run)
        if sha == known or (known is None and _own_whole_file(f, run, experiment_sha256)):
            good[run] = sha
        else:
            bad.append(run)
    return good, bad
