"""Atomic output: readers never see a half-written file or folder.

Temporary files and folders are created with the ordinary modes (0666 for files, 0777 for
folders, less the process umask, applied by the operating system), so a shared results
folder can be read by colleagues exactly as any other file the user writes. Nothing here
changes process state (no umask calls).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically", "write_bytes_atomically"]

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


def write_atomically(out_dir: str | Path, write_files: Callable[[Path], None]) -> Path:
    """Run ``write_files(tmp_dir)`` into a fresh temporary folder beside ``out_dir``, then
    move the files into ``out_dir``: readers never see a half-written result."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out}: exists and is not a directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_name(out)
    os.mkdir(tmp, 0o777)
    try:
        write_files(tmp)
        if not out.exists():
            os.rename(tmp, out)
            return out
        for f in sorted(tmp.iterdir()):
            os.replace(f, out / f.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out
