"""Writing a dataset directory all at once, never over a user's files."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from pathlib import Path


@contextlib.contextmanager
def new_output_dir(out: str | Path):
    """Yields a temporary directory that becomes `out` when the block succeeds.

    `out` must not exist, or be an empty directory: nothing a user has is
    overwritten. A failure or interruption leaves no half-written `out`
    behind.

    Raises:
        FileExistsError: when `out` exists and is not an empty directory.
    """
    out = Path(out)
    check_new_output_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    # mkdtemp makes the folder private (0700); the output gets the usual permissions.
    staging.chmod(0o777 & ~current_umask())
    try:
        yield staging
        if out.exists():
            out.rmdir()
        staging.rename(out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def write_atomically(path: str | Path, text: str) -> None:
    """Writes `text` (UTF-8) to `path` through a staging file: readers see the old
    file or the new one, never half of one."""
    path = Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def save_array_atomically(path: str | Path, array) -> None:
    """`np.save(path, array)` through a staging file, as `write_atomically`."""
    import numpy as np

    path = Path(path)
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp.npy")
    np.save(staging, array)
    os.replace(staging, path)


def current_umask() -> int:
    """The process's umask (read by setting it, then putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_new_output_dir(out: str | Path) -> None:
    """Raises `FileExistsError` unless `out` is new or an empty directory."""
    out = Path(out)
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        raise FileExistsError(
            f"{out} already exists and is not empty; choose another path or remove it first"
        )


def write_csv(path: Path, columns, rows) -> None:
    """Writes dict rows as UTF-8 CSV; keys outside `columns` are ignored, absent ones left empty."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore", restval="")
        writer.writeheader()
        writer.writerows(rows)
