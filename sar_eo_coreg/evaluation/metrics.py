"""Scoring offsets against known tie points, SpaceNet 9 style: error = |predicted - true shift| in EO pixels."""

from __future__ import annotations

import numpy as np
import rasterio

PCK_THRESHOLDS = (1, 3, 5)


def sample_offsets(path, points: np.ndarray) -> np.ndarray:
    """offsets.tif values (dx, dy) at EO pixel positions (nearest pixel); NaN where undefined."""
    return sample_bands(path, points)


def sample_bands(path, points: np.ndarray) -> np.ndarray:
    """Every band of a raster on the EO grid at EO pixel positions (nearest pixel): (n, bands)."""
    cols = np.clip(np.rint(points[:, 0]).astype(int), 0, None)
    rows = np.clip(np.rint(points[:, 1]).astype(int), 0, None)
    with rasterio.open(path) as ds:
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        data = ds.read(window=((r0, r1), (c0, c1)))
    return data[:, rows - r0, cols - c0].T.astype(np.float64)


def score(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Mean, median and PCK of the end-point error. Undefined predictions count as zero shift."""
    predicted = np.where(np.isfinite(predicted), predicted, 0.0)
    error = np.hypot(*(predicted - truth).T)
    result = {"n": int(len(error)), "mean": float(error.mean()), "median": float(np.median(error))}
    for k in PCK_THRESHOLDS:
        result[f"pck{k}"] = float((error <= k).mean())
    return result
