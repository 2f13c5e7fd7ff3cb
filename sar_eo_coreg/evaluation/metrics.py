"""Scoring offsets against known tie points, SpaceNet 9 style: error = |predicted - true shift| in EO pixels."""

from __future__ import annotations

import numpy as np
import rasterio

PCK_THRESHOLDS = (1, 3, 5)


def sample_offsets(path, points: np.ndarray) -> np.ndarray:
    """offsets.tif values (dx, dy) at EO pixel positions (nearest pixel); NaN where undefined."""
    cols = np.clip(np.rint(points[:, 0]).astype(int), 0, None)
    rows = np.clip(np.rint(points[:, 1]).astype(int), 0, None)
    with rasterio.open(path) as ds:
        out = np.full((len(points), 2), np.nan)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        data = ds.read(window=((r0, r1), (c0, c1)))
        out[:, 0] = data[0, rows - r0, cols - c0]
        out[:, 1] = data[1, rows - r0, cols - c0]
    return out


def score(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Mean, median and PCK of the end-point error. Undefined predictions count as zero shift."""
    predicted = np.where(np.isfinite(predicted), predicted, 0.0)
    error = np.hypot(*(predicted - truth).T)
    result = {"n": int(len(error)), "mean": float(error.mean()), "median": float(np.median(error))}
    for k in PCK_THRESHOLDS:
        result[f"pck{k}"] = float((error <= k).mean())
    return result
