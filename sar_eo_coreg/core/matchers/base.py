"""The matcher interface, shared peak finding, and the registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..errors import CoregError

# Pixels of margin each chip carries beyond the template/search area, for the feature filters.
MARGIN = 8


SECOND_PEAK_EXCLUSION = 3  # px around the best peak ignored when looking for the runner-up


@dataclass
class MatchBatch:
    shift: np.ndarray  # (N, 2) x, y shift of the SAR match relative to the predicted position, level pixels
    score: np.ndarray  # (N,) confidence in [0, 1]
    valid: np.ndarray  # (N,) bool: a clear peak inside the search area


class Matcher(ABC):
    name = ""

    @abstractmethod
    def surfaces(self, eo_chips: np.ndarray, sar_chips: np.ndarray, template_half: int, radius: int):
        """Similarity of the EO template at every shift in [-radius, radius]^2.

        eo_chips: (N, 2*(template_half+MARGIN), same) uint8; sar_chips: (N, 2*(template_half+radius+MARGIN),
        same) uint8; 0 marks nodata. Returns (surfaces (N, 2r+1, 2r+1) float32 in [-1, 1], usable (N,) bool)."""

    def match(self, eo_chips, sar_chips, template_half, radius) -> MatchBatch:
        surfaces, usable = self.surfaces(eo_chips, sar_chips, template_half, radius)
        return find_peaks(surfaces, radius, usable)


def _parabola(minus, centre, plus):
    denom = minus - 2 * centre + plus
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(denom < -1e-9, 0.5 * (minus - plus) / denom, 0.0)
    return np.clip(offset, -0.5, 0.5)


def find_peaks(surfaces: np.ndarray, radius: int, usable: np.ndarray, guide: np.ndarray = None) -> MatchBatch:
    """Best peak of each surface with a sub-pixel parabola fit, and a confidence from its height and its
    margin over the runner-up. `guide` (N, 2r+1, 2r+1), if given, picks the peak (e.g. an aggregate of
    neighbouring surfaces); the position is then refined on the point's own surface nearby."""
    n, size, _ = surfaces.shape
    if n == 0:
        return MatchBatch(np.zeros((0, 2)), np.zeros(0), np.zeros(0, bool))
    pick = surfaces if guide is None else guide
    index = pick.reshape(n, -1).argmax(axis=1)
    by, bx = np.divmod(index, size)
    if guide is not None:  # the own surface's best within ±1 px of the guided peak
        offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
        cand_y = np.clip(by[:, None] + np.array([o[0] for o in offsets]), 0, size - 1)
        cand_x = np.clip(bx[:, None] + np.array([o[1] for o in offsets]), 0, size - 1)
        values = surfaces[np.arange(n)[:, None], cand_y, cand_x]
        choice = values.argmax(axis=1)
        by, bx = cand_y[np.arange(n), choice], cand_x[np.arange(n), choice]
    rows = np.arange(n)
    best = surfaces[rows, by, bx]
    yy, xx = np.mgrid[0:size, 0:size]
    near = (np.abs(yy[None] - by[:, None, None]) <= SECOND_PEAK_EXCLUSION) & (
        np.abs(xx[None] - bx[:, None, None]) <= SECOND_PEAK_EXCLUSION)
    second = np.where(near, -1.0, pick).reshape(n, -1).max(axis=1)
    first = pick[rows, by, bx]
    inner = (bx > 0) & (bx < size - 1) & (by > 0) & (by < size - 1)
    bxc, byc = np.clip(bx, 1, size - 2), np.clip(by, 1, size - 2)
    dx = _parabola(surfaces[rows, byc, bxc - 1], surfaces[rows, byc, bxc], surfaces[rows, byc, bxc + 1])
    dy = _parabola(surfaces[rows, byc - 1, bxc], surfaces[rows, byc, bxc], surfaces[rows, byc + 1, bxc])
    shift = np.c_[bx + dx - radius, by + dy - radius].astype(np.float64)
    distinct = np.clip((first - second) / np.maximum(1.0 - second, 1e-3), 0.0, 1.0)
    score = np.sqrt(np.clip(best, 0.0, 1.0) * distinct)
    valid = inner & (best > 0.05) & usable
    return MatchBatch(shift, score.astype(np.float64), valid)


MATCHERS = ("structural", "heatmap", "fused")


def get_matcher(name: str, device: str = "auto", model: str = None) -> Matcher:
    """`model`: weights name or path for the learned matchers (default: the shipped default model)."""
    if name == "structural":
        from .structural import StructuralMatcher

        return StructuralMatcher(device)
    if name in ("heatmap", "fused"):
        from .heatmap import FusedMatcher, HeatmapMatcher

        return (HeatmapMatcher if name == "heatmap" else FusedMatcher)(device, model)
    raise CoregError(f"Unknown matcher '{name}'. Available: {', '.join(MATCHERS)}.")
