"""Shared test helpers."""

import csv
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
# Truth no matcher made on the airport crop fixture: the points of bench/results/airport_truth.csv
# (bench/airport_truth.py) inside it, as full-scene EO pixels col, row, their dx, dy, uncertainty px: a
# grass-island centroid (2 px off the uniform hand-checked shift in dy) and the apron's east corner. The crop
# starts at column and row 300 and is 384 px a side (tests/data/make_fixtures.py).
AIRPORT_CROP_ORIGIN, AIRPORT_CROP_SIZE = 300, 384


def _airport_truth_in_crop():
    with open(REPO / "bench" / "results" / "airport_truth.csv", newline="") as truth:
        rows = [tuple(float(row[k]) for k in ("eo_col", "eo_row", "dx", "dy", "uncertainty_px"))
                for row in csv.DictReader(truth)]
    inside = range(AIRPORT_CROP_ORIGIN, AIRPORT_CROP_ORIGIN + AIRPORT_CROP_SIZE)
    return [row for row in rows if inside.start <= row[0] < inside.stop and inside.start <= row[1] < inside.stop]


AIRPORT_TRUTH = _airport_truth_in_crop()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
