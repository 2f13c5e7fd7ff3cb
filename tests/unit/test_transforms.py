"""Transform models: recovery of a known field, leave-one-out residuals, refusal with too few points."""

import numpy as np
import pytest

from sar_eo_coreg.core.choices import Transform
from sar_eo_coreg.core.errors import CoregError
from sar_eo_coreg.core.transforms import fit_model


def _smooth_field(points):
    x, y = points[:, 0] / 500.0, points[:, 1] / 500.0
    return np.c_[3 + 4 * np.sin(2 * x) + 0.5 * y, -2 + 3 * np.cos(1.5 * y) - 0.4 * x]


@pytest.fixture()
def samples():
    rng = np.random.default_rng(3)
    points = rng.uniform(0, 1000, (400, 2))
    return points, _smooth_field(points), rng


@pytest.mark.parametrize("kind", ["grid", "tps"])
def test_local_models_recover_a_smooth_field_from_noisy_points(kind, samples):
    points, disp, rng = samples
    model = fit_model(kind, points, disp + rng.normal(0, 0.5, disp.shape), (0, 0, 1000, 1000))
    grid = np.stack(np.meshgrid(np.linspace(50, 950, 20), np.linspace(50, 950, 20)), -1).reshape(-1, 2)
    error = np.hypot(*(model.predict(grid) - _smooth_field(grid)).T)
    assert np.median(error) < 0.4
    assert error.max() < 1.5


def test_affine_is_exact_on_an_affine_field(samples):
    points, _, _ = samples
    disp = points @ np.array([[0.01, -0.02], [0.03, 0.005]]) + [4.0, -7.0]
    model = fit_model("affine", points, disp)
    assert np.allclose(model.predict(points), disp, atol=1e-8)
    assert np.allclose(model.loo, 0, atol=1e-8)


@pytest.mark.parametrize("kind", ["poly1", "poly2", "tps", "grid"])
def test_leave_one_out_residuals_match_explicit_refits(kind, samples):
    points, disp, rng = samples
    points, disp = points[:40], disp[:40] + rng.normal(0, 0.3, (40, 2))
    model = fit_model(kind, points, disp, (0, 0, 1000, 1000))
    for i in (0, 7, 23):
        keep = np.arange(len(points)) != i
        # the same smoother (same absolute regularisation) fitted without point i
        if kind == "tps":
            refit = type(model)(points[keep], disp[keep], lam=model.lam, norm=model.norm)
        if kind == "grid":
            refit = type(model)(points[keep], disp[keep], (0, 0, 1000, 1000), nodes=(model.nx, model.ny),
                                bending=model.bending, data_weight=model.data_weight)
        if kind.startswith("poly"):
            refit = fit_model(kind, points[keep], disp[keep])
        explicit = disp[i] - refit.predict(points[i:i + 1])[0]
        assert np.allclose(model.loo[i], explicit, atol=1e-6)


def test_gcv_smooths_noisier_data_more(samples):
    points, disp, rng = samples
    clean = fit_model("grid", points, disp + rng.normal(0, 0.1, disp.shape), (0, 0, 1000, 1000))
    noisy = fit_model("grid", points, disp + rng.normal(0, 5.0, disp.shape), (0, 0, 1000, 1000))
    assert noisy.bending > clean.bending


def test_projective_recovers_a_homography():
    rng = np.random.default_rng(1)
    points = rng.uniform(0, 100, (30, 2))
    h = np.array([[1.01, 0.02, 3.0], [-0.01, 0.99, -2.0], [1e-5, -2e-5, 1.0]])
    mapped = np.c_[points, np.ones(30)] @ h.T
    disp = mapped[:, :2] / mapped[:, 2:] - points
    model = fit_model("projective", points, disp)
    assert np.allclose(model.predict(points), disp, atol=1e-6)


@pytest.mark.parametrize("kind", Transform.fits())
def test_too_few_points_is_refused_with_a_clear_message(kind):
    n = kind.min_points - 1
    points = np.arange(2 * n, dtype=float).reshape(n, 2)
    with pytest.raises(CoregError, match=f"Too few tie points for the '{kind}' transform: {n}"):
        fit_model(kind, points, np.zeros((n, 2)))


def test_auto_prefers_the_grid_and_falls_back():
    assert Transform.for_points(500) == "grid"
    assert Transform.for_points(40) == "tps"
    assert Transform.for_points(4) == "affine"
