"""Calibrated confidence: the engine's evidence score mapped to the probability that the offset is within 3 EO
pixels of the truth, and to an uncertainty in pixels.

The evidence score (0-1) ranks well but is no probability. `calibration.json` holds a monotone map from it to
P(error <= 3 px), fitted by isotonic regression on the accuracy benchmark (bench/calibrate.py, every protocol,
checked on pairs held out of the fit), and the error quantile that serves as an uncertainty. Both are
piecewise linear between the table's knots.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("calibration.json")


def _load() -> dict:
    table = json.loads(TABLE.read_text())
    for key in ("evidence", "p_within_3px", "uncertainty_px"):
        table[key] = np.asarray(table[key], np.float64)
    return table


_TABLE = _load()


def probability(evidence: np.ndarray) -> np.ndarray:
    """P(offset within 3 EO px of the truth) for evidence scores (any shape)."""
    return np.interp(evidence, _TABLE["evidence"], _TABLE["p_within_3px"])


def evidence_from(probability_values: np.ndarray) -> np.ndarray:
    """The inverse of `probability` (the table is strictly increasing), for re-fitting from calibrated rasters."""
    return np.interp(probability_values, _TABLE["p_within_3px"], _TABLE["evidence"])


def uncertainty_px(evidence: np.ndarray) -> np.ndarray:
    """A typical error at that evidence, EO pixels (the 68th percentile of the benchmark's errors there)."""
    return np.interp(evidence, _TABLE["evidence"], _TABLE["uncertainty_px"])


def table_id() -> str:
    """What the table was fitted on (its `fitted` note), for the run report."""
    return _TABLE.get("fitted", "")
