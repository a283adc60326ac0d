"""Loading pretrained weights in tests: skipped without the weight packages, except in CI."""

from __future__ import annotations

import os

import pytest


def load_or_skip(load):
    """Returns `load()`, skipping when its weights package is missing (failing under CI)."""
    try:
        return load()
    except FileNotFoundError as e:
        if os.environ.get("MMREC_REQUIRE_DATA") == "1":
            pytest.fail(f"{e} (MMREC_REQUIRE_DATA=1 requires the pretrained weights)")
        pytest.skip(str(e))
