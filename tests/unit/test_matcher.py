"""The structural matcher on real fixture imagery."""

import numpy as np
import pytest
import rasterio

from sar_eo_coreg.core.matchers import get_matcher
from sar_eo_coreg.core.matching import Pass, ZeroModel, run_pass


def _grey(path, band=None):
    with rasterio.open(path) as ds:
        data = ds.read().astype(np.float32)
    img = data[:3].mean(0) if data.shape[0] >= 3 else data[0]
    lo, hi = np.percentile(img, [1, 99])
    return np.clip((img - lo) / (hi - lo) * 254 + 1, 1, 255).astype(np.uint8)


def _shifted(img, dx, dy):
    out = np.zeros_like(img)
    h, w = img.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = img[max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.fixture(scope="module")
def matcher():
    return get_matcher("structural", "cpu")


def test_recovers_a_known_shift_exactly_on_identical_content(matcher, data_dir):
    eo = _grey(data_dir / "s1s2_eo.tif")
    tp = run_pass(eo, _shifted(eo, 5, -3), ZeroModel(), Pass(1, 24, 8, 150), matcher, seed=0)
    inl = tp.inlier
    assert inl.sum() > 50
    assert np.allclose(np.median(tp.disp[inl], axis=0), [5, -3], atol=0.05)


def test_cross_modal_shift_is_found_on_sentinel_1_2(matcher, data_dir):
    eo, sar = _grey(data_dir / "s1s2_eo.tif"), _grey(data_dir / "s1s2_sar.tif")
    tp = run_pass(eo, _shifted(sar, -6, 4), ZeroModel(), Pass(1, 32, 10, 150), matcher, seed=0)
    inl = tp.inlier
    assert inl.sum() > 20
    assert np.allclose(np.median(tp.disp[inl], axis=0), [-6, 4], atol=2.0)


def test_scores_are_confidences(matcher, data_dir):
    eo = _grey(data_dir / "s1s2_eo.tif")
    tp = run_pass(eo, _shifted(eo, 2, 2), ZeroModel(), Pass(1, 24, 6, 80), matcher, seed=0)
    assert np.all((tp.score >= 0) & (tp.score <= 1))
    assert np.median(tp.score) > 0.5  # identical content: clear peaks
