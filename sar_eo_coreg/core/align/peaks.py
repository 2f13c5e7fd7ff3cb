"""Peaks of correlation surfaces: sub-pixel position by a parabola through the neighbours."""

from __future__ import annotations

import numpy as np


def parabola_offset(minus, centre, plus):
    """Sub-pixel offset of a peak from its value and its two neighbours (in [-0.5, 0.5]; NaN counts as -1)."""
    minus, centre, plus = (np.nan_to_num(np.asarray(v, np.float64), nan=-1.0) for v in (minus, centre, plus))
    denom = minus - 2 * centre + plus
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(denom < -1e-9, 0.5 * (minus - plus) / denom, 0.0)
    return np.clip(offset, -0.5, 0.5)



def surface_peaks(surfaces: np.ndarray, radius: int, exclusion: int = 1):
    """surfaces (S, S, ny, nx) over shifts -> sub-pixel best shift (ny, nx, 2), peak, runner-up (more than
    `exclusion` px away) and whether the peak lies inside the search area (not on its border)."""
    size = surfaces.shape[0]
    flat = surfaces.reshape(size * size, *surfaces.shape[2:])
    best = flat.argmax(axis=0)
    by, bx = np.divmod(best, size)
    peak = np.take_along_axis(flat, best[None], 0)[0]
    grid_y, grid_x = np.divmod(np.arange(size * size), size)
    far = (np.abs(grid_y[:, None, None] - by[None]) > exclusion) | (np.abs(grid_x[:, None, None] - bx[None]) > exclusion)
    second = np.where(far, flat, -1.0).max(axis=0)
    inner = (bx > 0) & (bx < size - 1) & (by > 0) & (by < size - 1)
    byc, bxc = np.clip(by, 1, size - 2), np.clip(bx, 1, size - 2)
    jj, ii = np.indices(by.shape)
    dx = parabola_offset(surfaces[byc, bxc - 1, jj, ii], surfaces[byc, bxc, jj, ii], surfaces[byc, bxc + 1, jj, ii])
    dy = parabola_offset(surfaces[byc - 1, bxc, jj, ii], surfaces[byc, bxc, jj, ii], surfaces[byc + 1, bxc, jj, ii])
    shift = np.stack([bx - radius + np.where(inner, dx, 0.0), by - radius + np.where(inner, dy, 0.0)], axis=-1)
    return shift, peak, second, inner

