"""The review's state, apart from its widgets: the tie points as they are on screen and their fit, computed off
the GUI thread by the engine's own fitting code (core.transforms.fit_with_residuals), with each point's deviation
from the robust global model (core.transforms.global_deviation) flagging suspects."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Optional

import numpy as np

from ..bridge.eo_pixels import EoPixels
from ..bridge.tiepoint_layers import RunLayers, TiePointRows, read_rows
from ..core.errors import CoregError
from ..core.residual_report import ResidualTable
from ..core.transforms import SUSPECT_MIN_PX, SUSPECT_SIGMAS, fit_with_residuals, global_deviation, loo_note, rmse

EDGE_PX = 8  # closer than this to the EO edge, a quarter or more of a point's 33-px window was off the image


@dataclass
class ReviewFit:
    """The chosen transform fitted to the enabled points, and what marks a point suspect."""

    kind: str
    residual: np.ndarray  # (N, 2) leave-one-out residuals, NaN where none
    error: str  # why there is no fit ("" when there is one)
    off_global: np.ndarray  # (N,) distance from the robust global affine
    suspect: np.ndarray  # (N,) bool


def fit_review(transform: str, px: np.ndarray, disp: np.ndarray, enabled: np.ndarray, extent) -> ReviewFit:
    """The review's fit (pure: runs off the GUI thread). A point is suspect when it lies off the robust global
    model; when its residual is large against a fit of the points not already suspect (so a cluster of wrong
    matches does not make its good neighbours look wrong); or when it sits at the EO's edge, where its
    matching window was partly off the image."""
    off_global, threshold = global_deviation(px, disp, enabled)
    with np.errstate(invalid="ignore"):
        off = enabled & (off_global > threshold)
    residual = np.full((len(px), 2), np.nan)
    try:
        model, residual = fit_with_residuals(transform, px, disp, enabled, extent)
        kind, error = model.kind, ""
    except CoregError as exc:
        kind, error = "", str(exc)
    check = residual
    if off.any() and not error:
        try:
            check = fit_with_residuals(transform, px, disp, enabled & ~off, extent)[1]
        except CoregError:
            check = np.full_like(residual, np.nan)
    norm = np.hypot(*check.T)
    clean = enabled & ~off & np.isfinite(norm)
    limit = max(SUSPECT_MIN_PX, SUSPECT_SIGMAS * 1.4826 * float(np.median(norm[clean]))) if clean.any() else np.inf
    x0, y0, x1, y1 = extent
    at_edge = (px[:, 0] < x0 + EDGE_PX) | (px[:, 0] > x1 - EDGE_PX) | (px[:, 1] < y0 + EDGE_PX) | (px[:, 1] > y1 - EDGE_PX)
    with np.errstate(invalid="ignore"):
        suspect = (off_global > threshold) | (norm > limit) | at_edge
    return ReviewFit(kind, residual, error, off_global, suspect)


class ReviewSession:
    """The review state of one run: rows from the layers (read on the GUI thread) and the latest fit."""

    def __init__(self, run: RunLayers, eo_path: str):
        self.run = run
        self.to_pixel = EoPixels(eo_path)
        self.rows: Optional[TiePointRows] = None
        self.px = self.disp = np.zeros((0, 2))
        self.fit: Optional[ReviewFit] = None

    def read(self) -> None:
        """The tie points as they are on screen now; the fit is pending until `fit` is set."""
        self.rows = read_rows(self.run.points, self.run.links)
        self.px = self.to_pixel(self.rows.eo_xy)
        self.disp = self.to_pixel(self.rows.sar_xy) - self.px
        self.fit = None

    def job(self, transform: str):
        """The fit of the rows read last, as a call that needs nothing from Qt."""
        return partial(fit_review, transform, self.px.copy(), self.disp.copy(), self.rows.enabled.copy(),
                       self.to_pixel.extent)

    @property
    def residual(self) -> np.ndarray:
        return self.fit.residual if self.fit is not None else np.full((len(self.px), 2), np.nan)

    @property
    def off_global(self) -> np.ndarray:
        return self.fit.off_global if self.fit is not None else np.full(len(self.px), np.nan)

    @property
    def suspect(self) -> np.ndarray:
        return self.fit.suspect if self.fit is not None else np.zeros(len(self.px), bool)

    @property
    def rmse(self) -> float:
        if self.rows is None or self.fit is None or self.fit.error:
            return float("nan")
        return rmse(self.fit.residual[self.rows.enabled])

    def summary(self) -> str:
        if self.rows is None:
            return "No tie points loaded."
        if self.fit is None:
            return f"Re-fitting… ({int(self.rows.enabled.sum())} of {len(self.rows)} points enabled)"
        if self.fit.error:
            return self.fit.error
        n_used = int(self.rows.enabled.sum())
        value = self.rmse
        figure = f"RMSE {value:.2f} px" if np.isfinite(value) else f"RMSE {loo_note(n_used, self.fit.kind)}"
        return f"Transform {self.fit.kind}: {figure} (leave-one-out, {n_used} of {len(self.rows)} points enabled)"

    def residual_table(self) -> Optional[ResidualTable]:
        """The points and their residuals as shown now (None before a fit returns)."""
        if self.rows is None or self.fit is None:
            return None
        return ResidualTable(self.rows.ids, self.rows.enabled, self.px, self.rows.eo_xy, self.rows.sar_xy, self.disp,
                             self.residual, self.suspect)
