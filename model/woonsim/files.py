"""Atomic output: readers never see a half-written file or folder.

Temporary files and folders are created with the ordinary modes (0666 for files, 0777 for
folders, less the process umask, applied by the operating system), so a shared results
folder can be read by colleagues exactly as any other file the user writes. Nothing here
changes process state (no umask calls).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["refuse_foreign", "write_atomically", "write_bytes_atomically"]

TMP_SUFFIX = ".tmp"  # files being written are named `.<name>.<random>.tmp`


def _tmp_name(target: Path) -> Path:
    return target.parent / f".{target.name}.{secrets.token_hex(6)}{TMP_SUFFIX}"


def write_bytes_atomically(path: str | Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    tmp = _tmp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux renameat2 RENAME_EXCHANGE); False where the
    system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    ok = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0
    return ok


def write_atomically(
    out_dir: str | Path,
    write_files: Callable[[Path], None],
    *,
    replace: str | None = None,
) -> Path:
    """Run ``write_files(tmp_dir)`` into a fresh temporary folder beside ``out_dir``, then
    move it into place: readers never see a half-written result.

    By default the new files join those already in ``out_dir`` (a folder of several
    results, such as calibration fits). With ``replace`` (the name of a file every earlier
    output holds, e.g. ``summary.json``) the folder is replaced as a set: the new folder
    takes the old one's place in one rename, and no file of an earlier output survives
    beside the new ones. A non-empty folder without that file is not an earlier output
    and is refused (`FileExistsError`), so no unrelated file is ever deleted."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a directory")
    if replace is not None:
        refuse_foreign(out, replace)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(out)
    os.mkdir(tmp, 0o777)
    try:
        write_files(tmp)
        if not out.exists():
            os.rename(tmp, out)
            return out
        if replace is None:
            for f in sorted(tmp.iterdir()):
                os.replace(f, out / f.name)
        elif not _exchange(tmp, out):
            old = _tmp_name(out)
            os.rename(out, old)
            os.rename(tmp, out)
            tmp = old
        # after the exchange `tmp` names the earlier output: removed below
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def refuse_foreign(out: Path, marker: str) -> None:
    """`FileExistsError` when `out` is a non-empty folder without `marker` (not an
    earlier output of the same kind, which may be replaced)."""
    out = Path(out)
    if out.is_dir() and not (out / marker).is_file():
        names = sorted(p.name for p in out.iterdir() if not p.name.endswith(TMP_SUFFIX))
        if names:
            raise FileExistsError(
                f"{out}: not empty and holds no earlier output (no {marker}; it holds "
                f"{', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); "
                "choose a new or empty folder"
            )
