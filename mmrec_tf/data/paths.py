"""Resolving media paths from `items.csv` without leaving the dataset directory."""

from __future__ import annotations

import os
from pathlib import Path, PureWindowsPath


class UnsafePathError(ValueError):
    """A path in `items.csv` that points outside the dataset directory."""


def resolve_inside(root: Path, relative: str) -> Path:
    """Returns `root / relative`, refusing any path that leaves `root`.

    A path leaves the dataset when it is absolute, climbs out with `..`, or
    reaches outside through a symbolic link anywhere along the way. Links that
    stay inside the directory are fine. The file need not exist.

    Raises:
        UnsafePathError: naming the path, when it leaves `root`.
    """
    if os.path.isabs(relative) or PureWindowsPath(relative).anchor:
        raise UnsafePathError(
            f"{relative!r} is an absolute path; use a path relative to the dataset"
        )
    real_root = Path(root).resolve()
    real = (real_root / relative).resolve()
    if not real.is_relative_to(real_root):
        how = "through '..'" if ".." in Path(relative).parts else "through a symbolic link"
        raise UnsafePathError(f"{relative!r} leads outside the dataset directory ({how})")
    return real
