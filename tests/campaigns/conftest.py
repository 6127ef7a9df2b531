"""The real POS Lite exports, when ../shared/datasets has them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import dataset


@pytest.fixture(scope="session")
def poslite_dataset() -> Path:
    return dataset("poslite-campaigns")
