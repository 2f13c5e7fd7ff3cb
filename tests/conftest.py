"""Shared test helpers."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
# Truth no matcher made on the airport crop fixture (bench/airport_truth.py, bench/results/airport_truth.csv): the
# grass-island centroid and the apron's east corner inside it (full-scene EO pixels col, row, its dx, dy,
# uncertainty px); the crop starts at column and row 300 (tests/data/make_fixtures.py). The island lies 2 px off
# the uniform hand-checked shift in dy.
AIRPORT_TRUTH = [(643.25, 392.85, -73.33, -16.16, 0.65), (461.90, 337.92, -72.75, -13.73, 0.92)]
AIRPORT_CROP_ORIGIN = 300


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
