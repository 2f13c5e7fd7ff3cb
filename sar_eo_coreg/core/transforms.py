"""Transform models: a displacement d(p) from EO pixel p to the SAR location showing the same ground.

Every model is fitted on points P (N, 2) and displacements D (N, 2), both in EO pixels, predicts D for
any P, and gives leave-one-out (LOO) residuals. Linear smoothers (polynomials, thin-plate spline,
displacement grid) get exact LOO residuals from the hat matrix: r_i / (1 - h_ii).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from .choices import Transform
from .errors import CoregError
from .lattice import Lattice

# Smoothing of the grid and the thin-plate spline is chosen per fit by generalised cross-validation
# (GCV) among these weights: noisy matches get a smoother field, clean ones a more local one.
GRID_BENDING_CHOICES = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
TPS_SMOOTHING_CHOICES = (0.01, 0.1, 1.0, 10.0, 100.0)


def _gcv(residual: np.ndarray, hat: np.ndarray) -> float:
    n = len(residual)
    return float((residual**2).sum() / n / max(1.0 - hat.sum() / n, 1e-3) ** 2)


class _Normaliser:
    """Centre and scale coordinates so that fits are well conditioned."""

    def __init__(self, points: np.ndarray):
        self.centre = points.mean(axis=0)
        self.scale = max(float(np.abs(points - self.centre).max()), 1.0)

    def __call__(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, np.float64) - self.centre) / self.scale


class Model(ABC):
    """A displacement model fitted to tie points: predicts (dx, dy) in EO pixels at EO pixel positions."""
    kind = ""
    loo: np.ndarray  # (N, 2) leave-one-out residual vectors at the fitted points
    fitted_points: Optional[int] = None  # how many points fit_with_residuals fitted it to

    @abstractmethod
    def predict(self, points: np.ndarray) -> np.ndarray:
        """Displacements (N, 2) at EO pixel positions (N, 2)."""

    @property
    def loo_norm(self) -> np.ndarray:
        """Length of each fitted point's leave-one-out residual, EO pixels."""
        return np.hypot(self.loo[:, 0], self.loo[:, 1])


def _loo_from_hat(residual, hat_diag):
    return residual / np.maximum(1.0 - hat_diag, 1e-3)[:, None]


# ---- polynomials ---------------------------------------------------------------------------------
def _monomials(xy: np.ndarray, degree: int) -> np.ndarray:
    x, y = xy[:, 0], xy[:, 1]
    cols = [x**i * y**j for total in range(degree + 1) for i in range(total, -1, -1) for j in [total - i]]
    return np.stack(cols, axis=1)


class PolynomialModel(Model):
    """A polynomial of x and y per displacement component (degree 1 is the affine)."""
    def __init__(self, points, disp, degree):
        self.kind = f"poly{degree}"
        self.degree = degree
        self.norm = _Normaliser(points)
        a = _monomials(self.norm(points), degree)
        pinv = np.linalg.pinv(a)
        self.coef = pinv @ disp
        hat = np.einsum("ij,ji->i", a, pinv)
        self.loo = _loo_from_hat(disp - a @ self.coef, hat)

    def predict(self, points):
        """Displacements (N, 2) at EO pixel positions (N, 2)."""
        return _monomials(self.norm(points), self.degree) @ self.coef


# ---- projective ----------------------------------------------------------------------------------
def _homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    rows = []
    for (x, y), (u, v) in zip(src, dst):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    return vt[-1].reshape(3, 3)


def _apply_h(h, xy):
    p = np.c_[xy, np.ones(len(xy))] @ h.T
    return p[:, :2] / p[:, 2:3]


class ProjectiveModel(Model):
    """A homography from EO pixels to SAR positions, as a displacement model."""
    kind = "projective"

    def __init__(self, points, disp):
        self.norm = _Normaliser(points)
        src = self.norm(points)
        dst = self.norm(points + disp)
        self.h = _homography(src, dst)
        loo = np.zeros_like(disp)
        for i in range(len(points)):  # explicit refits: the model is not linear
            keep = np.arange(len(points)) != i
            h = _homography(src[keep], dst[keep])
            loo[i] = (dst[i] - _apply_h(h, src[i:i + 1])[0]) * self.norm.scale
        self.loo = loo

    def predict(self, points):
        """Displacements (N, 2) at EO pixel positions (N, 2)."""
        src = self.norm(points)
        return _apply_h(self.h, src) * self.norm.scale + self.norm.centre - np.asarray(points, np.float64)


# ---- thin-plate spline ---------------------------------------------------------------------------
def _tps_kernel(a, b):
    d2 = ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(d2 > 0, 0.5 * d2 * np.log(d2), 0.0)
    return k


class TpsModel(Model):
    """A thin-plate spline per displacement component, smoothed by generalised cross-validation."""
    kind = "tps"

    def __init__(self, points, disp, smoothing=None, lam=None, norm=None):
        """`lam` (absolute regulariser) and `norm` override the GCV choice and the coordinate scaling, to refit
        the same smoother."""
        self.norm = norm or _Normaliser(points)
        xy = self.norm(points)
        n = len(xy)
        k = _tps_kernel(xy, xy)
        p = np.c_[np.ones(n), xy]
        basis = np.c_[k, p]  # fitted values = basis @ coef
        rhs = np.vstack([disp, np.zeros((3, 2))])
        best = None
        scale = np.abs(k).mean() / max(n, 1) * 10.0
        lams = [lam] if lam is not None else [c * scale for c in (TPS_SMOOTHING_CHOICES if smoothing is None else (smoothing,))]
        for choice in lams:
            system = np.zeros((n + 3, n + 3))
            system[:n, :n] = k + choice * np.eye(n)
            system[:n, n:] = p
            system[n:, :n] = p.T
            inverse = np.linalg.pinv(system)
            coef = inverse @ rhs
            hat = np.einsum("ij,ji->i", basis, inverse[:, :n])
            residual = disp - basis @ coef
            score = _gcv(residual, hat)
            if best is None or score < best[0]:
                best = (score, choice, coef, residual, hat)
        _, self.lam, self.coef, residual, hat = best
        self.smoothing = self.lam / scale
        self.centres = xy
        self.loo = _loo_from_hat(residual, hat)

    def predict(self, points):
        """Displacements (N, 2) at EO pixel positions (N, 2)."""
        xy = self.norm(points)
        out = np.zeros((len(xy), 2))
        for start in range(0, len(xy), 4096):
            part = xy[start:start + 4096]
            out[start:start + 4096] = np.c_[_tps_kernel(part, self.centres), np.ones(len(part)), part] @ self.coef
        return out


# ---- smooth displacement grid --------------------------------------------------------------------
class GridModel(Model):
    """A bilinear displacement grid over the point extent, fitted by least squares with a bending
    (second-difference) penalty. Beyond the points it continues linearly, like an affine."""

    kind = "grid"

    def __init__(self, points, disp, extent, nodes=None, bending=None, data_weight=None):
        x0, y0, x1, y1 = extent
        n = len(points)
        if nodes is None:  # about one point per cell, 6..32 nodes per side
            aspect = (x1 - x0) / max(y1 - y0, 1.0)
            per_side = np.sqrt(n)
            nodes = (int(np.clip(per_side * np.sqrt(aspect), 6, 32)), int(np.clip(per_side / np.sqrt(aspect), 6, 32)))
        self.nx, self.ny = nodes
        self.x0, self.y0 = x0, y0
        self.sx = max(x1 - x0, 1.0) / (self.nx - 1)
        self.sy = max(y1 - y0, 1.0) / (self.ny - 1)
        phi = self._weights(points)
        reg = self._bending()
        self.data_weight = data_weight = 1.0 / max(n, 1) if data_weight is None else data_weight
        # second differences shrink with the node spacing squared: scale so the penalty means the same
        node_scale = ((self.nx - 1) ** 2 + (self.ny - 1) ** 2) / 2.0 / (self.nx * self.ny)
        gram, rtr, phi_t = (phi.T @ phi) * data_weight, reg.T @ reg, np.asarray(phi.T.todense())
        best = None
        for choice in (GRID_BENDING_CHOICES if bending is None else (bending,)):
            normal = gram + rtr * (choice * node_scale) + sp.identity(self.nx * self.ny) * 1e-9
            lu = splu(normal.tocsc())
            values = lu.solve(np.asarray(phi.T @ disp) * data_weight)
            # hat diagonal: h_ii = w * phi_i N^-1 phi_i^T
            hat = np.asarray(phi.multiply(lu.solve(phi_t).T).sum(axis=1)).ravel() * data_weight
            residual = disp - phi @ values
            score = _gcv(residual, hat)
            if best is None or score < best[0]:
                best = (score, choice, values, residual, hat)
        _, self.bending, self.values, residual, hat = best
        self.loo = _loo_from_hat(residual, hat)

    def _weights(self, points):
        pts = np.asarray(points, np.float64)
        fx = np.clip((pts[:, 0] - self.x0) / self.sx, 0, None)
        fy = np.clip((pts[:, 1] - self.y0) / self.sy, 0, None)
        ix = np.clip(np.floor(fx).astype(int), 0, self.nx - 2)
        iy = np.clip(np.floor(fy).astype(int), 0, self.ny - 2)
        wx, wy = fx - ix, fy - iy  # may exceed 1 outside the grid: linear extrapolation
        rows = np.repeat(np.arange(len(pts)), 4)
        cols = np.stack([iy * self.nx + ix, iy * self.nx + ix + 1, (iy + 1) * self.nx + ix, (iy + 1) * self.nx + ix + 1], 1)
        vals = np.stack([(1 - wx) * (1 - wy), wx * (1 - wy), (1 - wx) * wy, wx * wy], 1)
        return sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(len(pts), self.nx * self.ny))

    def _bending(self):
        def second_diff(m):
            return sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(max(m - 2, 0), m))

        ix, iy = sp.identity(self.nx), sp.identity(self.ny)
        dxx = sp.kron(iy, second_diff(self.nx))
        dyy = sp.kron(second_diff(self.ny), ix)
        first_x = sp.diags([-1.0, 1.0], [0, 1], shape=(self.nx - 1, self.nx))
        first_y = sp.diags([-1.0, 1.0], [0, 1], shape=(self.ny - 1, self.ny))
        dxy = sp.kron(first_y, first_x) * np.sqrt(2.0)
        return sp.vstack([dxx, dyy, dxy]).tocsr()

    def predict(self, points):
        """Displacements (N, 2) at EO pixel positions (N, 2)."""
        return np.asarray(self._weights(points) @ self.values)


# ---- the engine's own answers -------------------------------------------------------------------------
class FieldModel(Model):
    """The dense engine's displacement field: bilinear on a lattice of EO pixels."""

    kind = "field"

    def __init__(self, lattice: Lattice):
        self.lattice = lattice

    def predict(self, points):
        """Displacements (N, 2) at EO pixel positions (N, 2)."""
        points = np.asarray(points, np.float64).reshape(-1, 2)
        return self.lattice.sample(points[:, 0], points[:, 1])


class ZeroModel(Model):
    """No correction: the input georeference (the engine's answer when it cannot align)."""

    kind = "none"

    def predict(self, points):
        """Zero displacements (N, 2): the input georeference."""
        return np.zeros((len(points), 2))


def fit_model(kind: str, points: np.ndarray, disp: np.ndarray, extent=None) -> Model:
    """Fit a transform model. `extent` (x0, y0, x1, y1) is the area the grid model covers."""
    if kind not in Transform.fits():
        raise CoregError(f"Unknown transform '{kind}'. Choose one of: {', '.join(Transform.fits())}.")
    kind = Transform(str(kind))  # a Transform or its name
    kind.require(len(points))
    points = np.asarray(points, np.float64)
    disp = np.asarray(disp, np.float64)
    if kind is Transform.GRID:
        return GridModel(points, disp, extent if extent is not None else (*points.min(axis=0), *points.max(axis=0)))
    model = _MODELS[kind](points, disp)
    model.kind = kind.value
    return model


# the models fitted by name alone (GRID also needs the extent it covers)
_MODELS = {Transform.AFFINE: lambda p, d: PolynomialModel(p, d, 1), Transform.POLY1: lambda p, d: PolynomialModel(p, d, 1),
           Transform.POLY2: lambda p, d: PolynomialModel(p, d, 2), Transform.POLY3: lambda p, d: PolynomialModel(p, d, 3),
           Transform.PROJECTIVE: ProjectiveModel, Transform.TPS: TpsModel}


# The most points a transform is fitted to (its leave-one-out grows with n^2 to n^3): above, an evenly spread
# subset is fitted and the other points get their held-out error. Affine and polynomials take any number.
FIT_MAX_POINTS = {"tps": 1000, "grid": 5000, "projective": 400}


def fit_with_residuals(kind: str, points: np.ndarray, disp: np.ndarray, used: np.ndarray, extent=None):
    """Fit `kind` ('auto' allowed) on the used points; the one fit behind the engine and the review table.

    Returns (model, residual (N, 2)): leave-one-out residuals at the points fitted, and at the other points the
    model's prediction error, so the analyst sees how far a rejected (or thinned-out) point lies from the fit.
    `model.fitted_points` is how many points the model was fitted to.
    """
    used = np.asarray(used, bool)
    chosen = Transform.parse(kind).fitted_to(int(used.sum()))
    fitted = used.copy()
    cap = FIT_MAX_POINTS.get(str(chosen))
    if cap is not None and used.sum() > cap:
        fitted[:] = False
        fitted[np.flatnonzero(used)[spread(points[used], cap)]] = True
    model = fit_model(chosen, points[fitted], disp[fitted], extent)  # refuses too few points with a clear message
    residual = np.asarray(disp, np.float64) - model.predict(points)
    # leave-one-out needs more points than the model's minimum: with the minimum, the fit passes through each
    residual[fitted] = model.loo if fitted.sum() > chosen.min_points else np.nan
    model.fitted_points = int(fitted.sum())
    return model, residual


def spread(points: np.ndarray, count: int) -> np.ndarray:
    """Indices of at most `count` points spread evenly over their extent: the point nearest each cell's centre."""
    side = max(1, int(np.floor(np.sqrt(count))))
    lo, hi = points.min(axis=0), points.max(axis=0)
    size = np.maximum(hi - lo, 1e-9) / side
    cell = np.minimum(((points - lo) / size).astype(int), side - 1)
    centre = lo + (cell + 0.5) * size
    key = cell[:, 1] * side + cell[:, 0]
    order = np.lexsort((np.hypot(*(points - centre).T), key))
    first = np.r_[True, key[order][1:] != key[order][:-1]]
    return np.sort(order[first])[:count]


SUSPECT_MIN_PX = 5.0  # a point off the robust global affine by this much, and by SUSPECT_SIGMAS, is suspect
SUSPECT_SIGMAS = 4.0


def global_deviation(points: np.ndarray, disp: np.ndarray, used: np.ndarray):
    """How far each point's displacement lies from a robust global affine of the used points (Tukey IRLS),
    in EO pixels, and the suspect threshold max(SUSPECT_MIN_PX, SUSPECT_SIGMAS robust sigmas). Unlike a local
    model's leave-one-out residual, a cluster of wrong matches cannot bend this model towards itself."""
    points, disp = np.asarray(points, np.float64).reshape(-1, 2), np.asarray(disp, np.float64).reshape(-1, 2)
    used = np.asarray(used, bool) & np.isfinite(disp).all(axis=1)
    if used.sum() < Transform.AFFINE.min_points:
        return np.full(len(points), np.nan), float("nan")
    norm = _Normaliser(points[used])
    design = _monomials(norm(points), 1)
    weights = np.ones(int(used.sum()))
    for _ in range(10):
        w = np.sqrt(weights)[:, None]
        coef = np.linalg.lstsq(design[used] * w, disp[used] * w, rcond=None)[0]
        deviation = np.hypot(*(disp - design @ coef).T)
        sigma = max(1.4826 * float(np.median(deviation[used])), 0.5)
        weights = np.clip(1.0 - (deviation[used] / (4.685 * sigma)) ** 2, 0.0, None) ** 2 + 1e-6
    return deviation, max(SUSPECT_MIN_PX, SUSPECT_SIGMAS * sigma)


def loo_note(n_used: int, kind: str) -> str:
    """Why a leave-one-out RMSE is missing: the number of points against the transform's minimum (+1)."""
    minimum = f", minimum {Transform(kind).min_points + 1}" if kind in Transform.fits() else ""
    return f"not computable ({n_used} points{minimum})"


def rmse(residual: np.ndarray) -> float:
    """Root mean square length of residual vectors (N, 2), in their units; NaN for none."""
    return float(np.sqrt(np.mean(np.sum(residual**2, axis=1)))) if len(residual) else float("nan")
