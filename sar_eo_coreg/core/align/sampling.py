"""Tie points for the review loop, sampled from the finest level where confidence is high."""

from __future__ import annotations

import math

import numpy as np

from ..lattice import Lattice
from .field_fit import TUKEY_C
from .lattice_match import CONFIDENT


def sample_tiepoints(measured: np.ndarray, confidence: np.ndarray, robust: np.ndarray, sigma: float, final: Lattice,
                     max_points: int, min_confidence=CONFIDENT):
    """Tie points from the finest matched lattice (measured (ny, nx, 2), its confidence and robust weight, the
    fit's robust scale) where confidence is high, spread over the scene: in each cell of a coarse grid, the most
    confident lattice point. Their displacement is the measurement itself (not the fitted field); inlier = the
    robust fit kept it and it agrees with the final field (on the same lattice)."""
    conf = confidence * (robust > 0)
    ny, nx = conf.shape
    cells = max(1, int(math.ceil(math.sqrt(ny * nx / max(max_points, 1)))))
    xs, ys = final.coords()
    picked = []
    for j0 in range(0, ny, cells):
        for i0 in range(0, nx, cells):
            block = confidence[j0:j0 + cells, i0:i0 + cells]
            j, i = np.unravel_index(int(block.argmax()), block.shape)
            if block[j, i] >= min_confidence:
                picked.append((j0 + j, i0 + i))
    if not picked:
        return {"eo_px": np.zeros((0, 2)), "disp": np.zeros((0, 2)), "score": np.zeros(0), "inlier": np.zeros(0, bool)}
    jj, ii = np.array(picked).T
    disp = measured[jj, ii]
    tolerance = max(1.5, TUKEY_C * sigma) if np.isfinite(sigma) else 1.5
    agrees = np.hypot(*(disp - final.values[jj, ii]).T) <= tolerance
    return {"eo_px": np.c_[xs[ii], ys[jj]], "disp": disp, "score": confidence[jj, ii],
            "inlier": (robust[jj, ii] > 0.5) & agrees & (conf[jj, ii] > 0)}

