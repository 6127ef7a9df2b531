"""The real POS Lite exports, when ../shared/datasets has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import DATASETS


@pytest.fixture(scope="session")
def poslite_dataset() -> Path:
    path = DATASETS / "poslite-campaigns"
    if not path.exists():
        pytest.skip(f"real dataset folder {path} is absent (it lives in ../shared/datasets)")
    return path
