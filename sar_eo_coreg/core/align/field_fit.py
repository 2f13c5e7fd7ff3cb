"""The robust smooth fit that turns lattice measurements into a displacement field."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

SMOOTHNESS = 3.0  # bending weight of the field fit, in lattice units
TUKEY_C = 3.0  # robust scale multiples beyond which a measurement gets no weight
MIN_SIGMA = 0.5  # floor of the robust scale, level pixels
# Weight of the prior (the coarser estimate) per lattice point, relative to the bending weight: where evidence is
# thin the field relaxes to the prior over about (1 / PRIOR_WEIGHT) ** (1 / 4) ~ 4 lattice cells, instead of
# switching to it region by region.
PRIOR_WEIGHT = 0.005
# Graduated fit: (stiffness, Tukey multiple) per pass, from nearly affine to the final smoothness.
SCHEDULE = ((1e4, TUKEY_C), (1e2, TUKEY_C), (1.0, TUKEY_C), (1.0, TUKEY_C))


def _bending(ny: int, nx: int):
    def second_diff(m):
        return sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(max(m - 2, 0), m))

    def first_diff(m):
        return sp.diags([-1.0, 1.0], [0, 1], shape=(max(m - 1, 0), m))

    ix, iy = sp.identity(nx), sp.identity(ny)
    parts = [sp.kron(iy, second_diff(nx)), sp.kron(second_diff(ny), ix), sp.kron(first_diff(ny), first_diff(nx)) * 2**0.5]
    reg = sp.vstack([p for p in parts if p.shape[0] > 0]).tocsr()
    return (reg.T @ reg).tocsc()


def weighted_affine(points, values, weights):
    """Weighted least-squares affine (3, 2) from points (n, 2) to values (n, 2)."""
    design = np.c_[points, np.ones(len(points))]
    sw = np.sqrt(weights)[:, None]
    coef, *_ = np.linalg.lstsq(design * sw, values * sw, rcond=None)
    return coef  # (3, 2)


def smooth_fit(measured: np.ndarray, confidence: np.ndarray, prior: np.ndarray = None, smoothness: float = None,
               min_sigma: float = MIN_SIGMA):
    """Robust, confidence-weighted smooth field through lattice measurements (ny, nx, 2), level pixels.

    Minimises sum w_i |f_i - u_i|^2 + lambda |bending(f)|^2 + mu |f - prior|^2 with Tukey weights, first with a
    stiff field (nearly the weighted affine), then softer: a local deviation survives only if confident
    measurements carry it. The weak prior term (mu = PRIOR_WEIGHT lambda) makes the field relax toward the prior
    (the coarser level's field, or the global model) with distance from confident evidence. Returns (field
    (ny, nx, 2), robust weight (ny, nx) in [0, 1], robust scale)."""
    smoothness = SMOOTHNESS if smoothness is None else smoothness
    ny, nx = confidence.shape
    n = ny * nx
    u = measured.reshape(n, 2)
    conf = confidence.reshape(n).astype(np.float64)
    if (conf > 0).sum() < 3:
        return np.zeros_like(measured), np.zeros_like(confidence), float("nan")
    jj, ii = np.divmod(np.arange(n), nx)
    points = np.c_[ii, jj].astype(np.float64)
    robust = np.ones(n)
    bending = _bending(ny, nx) if n >= 9 and ny >= 3 and nx >= 3 else None
    mean_conf = conf[conf > 0].mean()
    field_values = None
    sigma = float("nan")
    g = None if prior is None else prior.reshape(n, 2)
    for stiffness, tukey in SCHEDULE:
        w = conf * robust
        if bending is None or (g is None and (w > 0).sum() < 6):
            coef = weighted_affine(points, u, np.maximum(w, 1e-12))
            field_values = np.c_[points, np.ones(n)] @ coef
        else:
            weight = smoothness * stiffness * mean_conf
            mu = 1e-9 if g is None else PRIOR_WEIGHT * smoothness * mean_conf
            system = sp.diags(w) + bending * weight + sp.identity(n) * mu
            lu = splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
            field_values = lu.solve(w[:, None] * u + (0.0 if g is None else mu * g))
        residual = np.hypot(*(u - field_values).T)
        used = conf > 0
        sigma = max(min_sigma, 1.4826 * _weighted_median(residual[used], conf[used]))
        t = residual / (tukey * sigma)
        robust = np.where(t < 1.0, (1.0 - t**2) ** 2, 0.0)
    return field_values.reshape(ny, nx, 2), robust.reshape(ny, nx), sigma


def _weighted_median(values, weights):
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])
