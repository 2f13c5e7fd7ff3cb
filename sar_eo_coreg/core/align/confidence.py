"""Calibrated confidence: the engine's evidence score mapped to the probability that the offset is within 3 EO
pixels of the truth, and to an uncertainty in pixels.

The evidence score (0-1) ranks well but is no probability. `calibration.json` holds monotone maps from it to
P(error <= t) for t = 3 px and finer thresholds, fitted by isotonic regression on the accuracy benchmark
(bench/calibrate.py, every protocol, checked on pairs held out of the fit; its scenes are matched at their own
pixel), and the error quantile that serves as an uncertainty. Where the working grid is `factor` times coarser
than the EO grid, 3 EO px are 3 / factor working pixels, so that threshold's map is used (log-interpolated
between the fitted ones). All are piecewise linear between the table's knots.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

TABLE = Path(__file__).with_name("calibration.json")


def _load() -> dict:
    table = json.loads(TABLE.read_text())
    for key in ("evidence", "p_within_3px", "uncertainty_px"):
        table[key] = np.asarray(table[key], np.float64)
    finer = {float(t): np.asarray(v, np.float64) for t, v in table.get("p_within", {}).items()}
    table["thresholds"] = sorted([(3.0, table["p_within_3px"]), *finer.items()], reverse=True)
    return table


_TABLE = _load()


def probability(evidence: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """P(offset within 3 EO px of the truth) for evidence scores (any shape) measured on a working grid `factor`
    times coarser than the EO grid."""
    threshold = 3.0 / max(float(factor), 1.0)
    thresholds = _TABLE["thresholds"]  # (t, p at the knots), t decreasing
    below = [k for k, (t, _) in enumerate(thresholds) if t <= threshold]
    k = below[0] if below else len(thresholds) - 1
    p = np.interp(evidence, _TABLE["evidence"], thresholds[k][1])
    if k > 0 and thresholds[k][0] < threshold:  # between two fitted thresholds: log-linear
        t0, t1 = thresholds[k][0], thresholds[k - 1][0]
        w = np.log(threshold / t0) / np.log(t1 / t0)
        p = (1 - w) * p + w * np.interp(evidence, _TABLE["evidence"], thresholds[k - 1][1])
    return p


def evidence_of(confidence: np.ndarray, robust: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The evidence score (0-1) at each lattice point: the confident, robustly kept matches around it (smoothed
    over 1.5 lattice cells), less where the self-check kept the global model (keep 0)."""
    support = (confidence * robust).astype(np.float64)
    norm = max(cv2.GaussianBlur(np.ones_like(support), (0, 0), 1.5).max(), 1e-9)
    smoothed = cv2.GaussianBlur(support, (0, 0), 1.5) / norm
    return np.clip(np.sqrt(np.clip(smoothed, 0, None)) * (0.25 + 0.75 * keep), 0.0, 1.0)


def evidence_from(probability_values: np.ndarray) -> np.ndarray:
    """The inverse of `probability` (the table is strictly increasing), for re-fitting from calibrated rasters."""
    return np.interp(probability_values, _TABLE["p_within_3px"], _TABLE["evidence"])


def uncertainty_px(evidence: np.ndarray) -> np.ndarray:
    """A typical error at that evidence, EO pixels (the 68th percentile of the benchmark's errors there)."""
    return np.interp(evidence, _TABLE["evidence"], _TABLE["uncertainty_px"])


def table_id() -> str:
    """What the table was fitted on (its `fitted` note), for the run report."""
    return _TABLE.get("fitted", "")
