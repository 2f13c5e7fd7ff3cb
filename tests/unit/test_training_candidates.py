"""Candidate points: spread over the image, away from nodata and flat areas; strips change nothing."""

import numpy as np
import rasterio

from sar_eo_coreg.training import candidates


def _eo(data_dir):
    with rasterio.open(data_dir / "s1s2_eo.tif") as ds:
        return np.maximum(ds.read(2), 1)


def test_points_avoid_nodata_and_flat_areas(data_dir):
    eo = _eo(data_dir)
    eo[:, :200] = 0  # nodata on the left
    eo[300:, 300:] = 120  # a flat block
    points, strength = candidates.pick_candidates(eo, np.ones_like(eo, bool), half=16, max_points=400)
    assert len(points) > 50 and np.all(strength > 0)
    assert points[:, 0].min() >= 200 + 16
    in_flat = (points[:, 0] >= 300 + 17) & (points[:, 1] >= 300 + 17)
    assert not in_flat.any()


def test_points_spread_over_the_image(data_dir):
    eo = _eo(data_dir)
    points, _ = candidates.pick_candidates(eo, np.ones_like(eo, bool), half=16, max_points=100)
    quadrants = {(x >= 256, y >= 256) for x, y in points}
    assert len(quadrants) == 4 and 40 <= len(points) <= 100


def test_strips_give_the_same_points(data_dir, monkeypatch):
    eo = _eo(data_dir)
    whole = candidates.pick_candidates(eo, np.ones_like(eo, bool), half=16, max_points=300)
    monkeypatch.setattr(candidates, "STRIP_PIXELS", 512 * 40)
    strips = candidates.pick_candidates(eo, np.ones_like(eo, bool), half=16, max_points=300)
    assert np.array_equal(whole[0], strips[0]) and np.allclose(whole[1], strips[1])
