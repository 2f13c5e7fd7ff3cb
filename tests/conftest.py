"""Shared test helpers."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
# Truth no matcher made on the airport crop fixture: the grass-island centroid inside it (bench/airport_truth.py;
# full-scene EO pixels col, row, its dx, dy, uncertainty px); the crop starts at column and row 300
# (tests/data/make_fixtures.py). It lies 2 px off the uniform hand-checked shift in dy.
AIRPORT_ISLANDS = [(643.25, 392.85, -73.33, -16.16, 0.63)]
AIRPORT_CROP_ORIGIN = 300


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
