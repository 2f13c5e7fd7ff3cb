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


def working_image(path, role):
    """A raster read as the engine reads it (its own grid, the engine's radiometry and stretch): uint8, 0 = nodata."""
    from sar_eo_coreg.core.raster import eo_grid, eo_radiometry, open_info, read_display_image, sar_radiometry

    info = open_info(path, role)
    radiometry = eo_radiometry(info) if role == "EO" else sar_radiometry(info)
    return read_display_image(info, radiometry, eo_grid(info), role)


def worse_regions(eo_path, sar_path, corruption=(9.0, -7.0)):
    """The self-check's fallback regions for the engine's own field on a pair, corrupted by `corruption` px in its
    north-west ninth: a local field measurably worse than the global model there, as the engine would meet it
    (tests/unit/test_align.py checks the self-check on it). Returns (working-grid images, the field before the
    corruption, the self-check's outputs: final field, keep weights, statistics)."""
    import numpy as np

    from sar_eo_coreg.core.align import coarse_to_fine, global_search, self_check
    from sar_eo_coreg.core.features import CfogDescriptor, downsample

    eo, sar = working_image(eo_path, "EO"), working_image(sar_path, "SAR")
    describe = CfogDescriptor()
    scale = coarse_to_fine.pyramid_factors(eo.shape[1], eo.shape[0], global_search.GLOBAL_MAX_SIDE)
    start = global_search.global_init(downsample(eo, scale), downsample(sar, scale), describe, (40 / scale,) * 2)
    result = coarse_to_fine.refine(eo, sar, describe, start, scale)
    clean = result.field.values.copy()
    ny, nx = clean.shape[:2]
    result.field.values[: ny // 3, : nx // 3] += np.asarray(corruption)
    return (eo, sar), clean, self_check.self_check(eo, sar, describe, result)[:3]
