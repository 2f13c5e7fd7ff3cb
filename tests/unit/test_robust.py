"""Outlier rejection: gross and local outliers are flagged, the result is deterministic."""

import numpy as np

from sar_eo_coreg.core.robust import reject_outliers


def _field(rng, n=300):
    points = rng.uniform(0, 800, (n, 2))
    disp = np.c_[10 + 5 * np.sin(points[:, 0] / 150), -6 + 4 * np.cos(points[:, 1] / 200)]
    return points, disp + rng.normal(0, 0.3, (n, 2))


def test_injected_outliers_are_flagged():
    rng = np.random.default_rng(0)
    points, disp = _field(rng)
    bad = rng.choice(len(points), 30, replace=False)
    disp[bad[:15]] += rng.uniform(20, 60, (15, 2))  # gross
    disp[bad[15:]] += rng.choice([-1, 1], (15, 2)) * rng.uniform(3, 6, (15, 2))  # local, a few pixels
    inlier, local = reject_outliers(points, disp, global_threshold=15.0, min_threshold=1.0, seed=0)
    assert not inlier[bad].any()
    assert inlier.sum() >= 0.93 * (len(points) - len(bad))
    assert np.all(local[bad] > np.median(local[inlier]))


def test_same_seed_same_result():
    rng = np.random.default_rng(5)
    points, disp = _field(rng)
    disp[:20] += 40
    first = reject_outliers(points, disp, 15.0, 1.0, seed=11)
    second = reject_outliers(points, disp, 15.0, 1.0, seed=11)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
