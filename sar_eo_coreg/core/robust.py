"""Outlier rejection: a seeded RANSAC affine (gross errors) and local consistency (each point against
a local linear fit of its neighbours). Deterministic for a given seed."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

NEIGHBOURS = 8
RANSAC_ITERATIONS = 400


def ransac_affine(points, disp, threshold, rng: np.random.Generator):
    """Inlier mask of the affine displacement model with the largest support."""
    n = len(points)
    if n < 4:
        return np.ones(n, bool)
    design = np.c_[points, np.ones(n)]
    best = np.ones(n, bool)
    best_count = -1
    for _ in range(RANSAC_ITERATIONS):
        pick = rng.choice(n, 3, replace=False)
        try:
            coef = np.linalg.solve(design[pick], disp[pick])
        except np.linalg.LinAlgError:
            continue
        inliers = np.hypot(*(design @ coef - disp).T) < threshold
        count = int(inliers.sum())
        if count > best_count:
            best, best_count = inliers, count
    return best


def local_residuals(points, disp, mask):
    """For every point: |disp - prediction of a linear fit on its nearest inlier neighbours| (itself excluded)."""
    inlier_idx = np.flatnonzero(mask)
    out = np.full(len(points), np.inf)
    if len(inlier_idx) < 4:
        return out
    k = min(NEIGHBOURS, len(inlier_idx) - 1)
    tree = cKDTree(points[inlier_idx])
    _, nearest = tree.query(points, k=k + 1)
    for i in range(len(points)):
        neighbours = inlier_idx[nearest[i]]
        neighbours = neighbours[neighbours != i][:k]
        local = points[neighbours] - points[i]
        design = np.c_[np.ones(len(neighbours)), local]
        weights = 1.0 / (1.0 + np.hypot(*local.T) / (np.hypot(*local.T).mean() + 1e-9))
        coef, *_ = np.linalg.lstsq(design * weights[:, None], disp[neighbours] * weights[:, None], rcond=None)
        if len(neighbours) < 6:  # too few for a plane: use the weighted mean
            coef = np.vstack([np.average(disp[neighbours], axis=0, weights=weights), np.zeros((2, 2))])
        out[i] = np.hypot(*(disp[i] - coef[0]))
    return out


def reject_outliers(points, disp, global_threshold, min_threshold, seed=0, rounds=3):
    """Inlier flags and the local-consistency residual of every point.

    RANSAC sets the support; then, a few times, each point is tested against a linear fit of its
    inlier neighbours, with a threshold from the robust spread of those residuals (never below
    `min_threshold`)."""
    rng = np.random.default_rng(seed)
    points = np.asarray(points, np.float64)
    disp = np.asarray(disp, np.float64)
    support = ransac_affine(points, disp, global_threshold, rng)
    mask = support.copy()
    local = np.full(len(points), np.inf)
    for _ in range(rounds):
        local = local_residuals(points, disp, mask)
        finite = local[mask & np.isfinite(local)]
        if finite.size < 4:
            break
        spread = 1.4826 * np.median(np.abs(finite - np.median(finite)))
        threshold = max(min_threshold, float(np.median(finite) + 3.0 * spread))
        new_mask = support & (local < threshold)
        if np.array_equal(new_mask, mask):
            break
        mask = new_mask
    return mask, local
