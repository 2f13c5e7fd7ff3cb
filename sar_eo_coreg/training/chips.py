"""The chip matching task of the heatmap models: peak finding on similarity surfaces, and the structural
baseline on the same chips (CFOG features and ZNCC from core.features). Training and evaluation only; the
engine itself matches densely (core.align)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.align.peaks import parabola_offset
from ..models.heatmap import MARGIN
from ..models.torch_ops import CfogFeatures, resolve_device, zncc

CHIP_PRE_SIGMA, CHIP_FEATURE_SIGMA = 2.0, 3.0  # the CFOG smoothing the chip task was built with
BATCH = 256
SECOND_PEAK_EXCLUSION = 3  # px around the best peak ignored when looking for the runner-up


@dataclass
class MatchBatch:
    shift: np.ndarray  # (N, 2) x, y shift of the SAR match relative to the predicted position, level pixels
    score: np.ndarray  # (N,) confidence in [0, 1]
    valid: np.ndarray  # (N,) bool: a clear peak inside the search area


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
    dx = parabola_offset(surfaces[rows, byc, bxc - 1], surfaces[rows, byc, bxc], surfaces[rows, byc, bxc + 1])
    dy = parabola_offset(surfaces[rows, byc - 1, bxc], surfaces[rows, byc, bxc], surfaces[rows, byc + 1, bxc])
    shift = np.c_[bx + dx - radius, by + dy - radius].astype(np.float64)
    distinct = np.clip((first - second) / np.maximum(1.0 - second, 1e-3), 0.0, 1.0)
    score = np.sqrt(np.clip(best, 0.0, 1.0) * distinct)
    valid = inner & (best > 0.05) & usable
    return MatchBatch(shift, score.astype(np.float64), valid)


class StructuralChipMatcher:
    def __init__(self, device: str = "auto"):
        self.device = resolve_device(device)
        self.features = CfogFeatures(CHIP_PRE_SIGMA, CHIP_FEATURE_SIGMA).to(self.device)

    def match(self, eo_chips, sar_chips, template_half, radius) -> MatchBatch:
        surfaces, usable = self.surfaces(eo_chips, sar_chips, template_half, radius)
        return find_peaks(surfaces, radius, usable)

    def surfaces(self, eo_chips, sar_chips, template_half, radius):
        size = 2 * radius + 1
        out = np.zeros((len(eo_chips), size, size), np.float32)
        usable = np.zeros(len(eo_chips), bool)
        for start in range(0, len(eo_chips), BATCH):
            stop = start + BATCH
            out[start:stop], usable[start:stop] = self._surfaces_batch(eo_chips[start:stop], sar_chips[start:stop])
        return out, usable

    def _surfaces_batch(self, eo_chips, sar_chips):
        with torch.no_grad():
            eo = torch.from_numpy(np.ascontiguousarray(eo_chips)).to(self.device).float().unsqueeze(1)
            sar = torch.from_numpy(np.ascontiguousarray(sar_chips)).to(self.device).float().unsqueeze(1)
            eo_valid = (eo[:, 0, MARGIN:-MARGIN, MARGIN:-MARGIN] > 0).flatten(1).all(dim=1)
            sar_invalid = (sar[:, :, MARGIN:-MARGIN, MARGIN:-MARGIN] == 0).float()
            template = self.features(eo / 255.0)[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
            search = self.features(sar / 255.0)[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
            surfaces = zncc(template, search, sar_invalid)
            return surfaces.cpu().numpy(), eo_valid.cpu().numpy()
