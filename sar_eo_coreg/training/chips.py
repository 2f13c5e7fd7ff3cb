"""The chip matching task of the heatmap models: peak finding on similarity surfaces, and the structural
baseline on the same chips (CFOG features and ZNCC from core.features). Training and evaluation only; the
engine itself matches densely (core.align)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.align.peaks import surface_peaks
from ..models.torch_ops import CfogFeatures, resolve_device, zncc
from .heatmap_task import MARGIN

CHIP_PRE_SIGMA, CHIP_FEATURE_SIGMA = 2.0, 3.0  # the CFOG smoothing the chip task was built with
BATCH = 256
SECOND_PEAK_EXCLUSION = 3  # px around the best peak ignored when looking for the runner-up


@dataclass
class MatchBatch:
    shift: np.ndarray  # (N, 2) x, y shift of the SAR match relative to the predicted position, level pixels
    score: np.ndarray  # (N,) confidence in [0, 1]
    valid: np.ndarray  # (N,) bool: a clear peak inside the search area


def find_peaks(surfaces: np.ndarray, radius: int, usable: np.ndarray) -> MatchBatch:
    """Best peak of each surface (N, 2r+1, 2r+1), sub-pixel, with a confidence from its height and its margin
    over the runner-up: the engine's peak finder (core.align.peaks), one surface per chip."""
    n = len(surfaces)
    if n == 0:
        return MatchBatch(np.zeros((0, 2)), np.zeros(0), np.zeros(0, bool))
    shift, best, second, inner = (a[:, 0] for a in surface_peaks(np.moveaxis(surfaces, 0, -1)[..., None], radius,
                                                                   SECOND_PEAK_EXCLUSION))
    distinct = np.clip((best - second) / np.maximum(1.0 - second, 1e-3), 0.0, 1.0)
    score = np.sqrt(np.clip(best, 0.0, 1.0) * distinct)
    return MatchBatch(shift.astype(np.float64), score.astype(np.float64), inner & (best > 0.05) & usable)


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
