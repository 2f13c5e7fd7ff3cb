"""Tie points for the review loop, sampled from the finest level where confidence is high."""

from __future__ import annotations

import math

import numpy as np

from ..lattice import Lattice
from .coarse_to_fine import DenseResult
from .field_fit import TUKEY_C
from .lattice_match import CONFIDENT


def sample_tiepoints(result: DenseResult, final: Lattice, max_points: int, min_confidence=CONFIDENT):
    """Tie points from the finest level where confidence is high, spread over the scene: in each cell of a
    coarse grid, the most confident lattice point. Their displacement is the measurement itself (not the
    fitted field); inlier = the robust fit kept it and it agrees with the final field."""
    conf = result.confidence * (result.robust > 0)
    ny, nx = conf.shape
    cells = max(1, int(math.ceil(math.sqrt(ny * nx / max(max_points, 1)))))
    xs, ys = final.coords()
    picked = []
    for j0 in range(0, ny, cells):
        for i0 in range(0, nx, cells):
            block = result.confidence[j0:j0 + cells, i0:i0 + cells]
            j, i = np.unravel_index(int(block.argmax()), block.shape)
            if block[j, i] >= min_confidence:
                picked.append((j0 + j, i0 + i))
    if not picked:
        return {"eo_px": np.zeros((0, 2)), "disp": np.zeros((0, 2)), "score": np.zeros(0), "inlier": np.zeros(0, bool)}
    jj, ii = np.array(picked).T
    disp = result.measured[jj, ii]
    tolerance = max(1.5, TUKEY_C * result.sigma) if np.isfinite(result.sigma) else 1.5
    agrees = np.hypot(*(disp - final.values[jj, ii]).T) <= tolerance
    return {"eo_px": np.c_[xs[ii], ys[jj]], "disp": disp, "score": result.confidence[jj, ii],
            "inlier": (result.robust[jj, ii] > 0.5) & agrees & (conf[jj, ii] > 0)}

