"""The chip task of the heatmap heads (training and evaluation only; the engine uses the networks' dense
descriptors, through ONNX).

The EO chip is a template plus a margin, 2*(TEMPLATE_HALF+MARGIN) px, with the candidate point at index
TEMPLATE_HALF+MARGIN; the SAR chip covers the search area, 2*(TEMPLATE_HALF+radius+MARGIN) px, with the
predicted position at its centre index. Both are zero-padded (0 = nodata) to TILE x TILE, which puts the
reference point and the zero shift at pixel TILE/2. The network's heatmap over the SAR tile peaks where the EO
point lies; it is read as a similarity surface over shifts in [-radius, radius]^2.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import CoregError
from ..models.card import Normalisation

MARGIN = 8  # pixels each chip carries beyond the template/search area, for the feature filters
TEMPLATE_HALF = 24  # the engine's default template (48 px)
MAX_RADIUS = 16  # largest search radius a model is trained for
TILE = 2 * (TEMPLATE_HALF + MARGIN + MAX_RADIUS)  # network input, 96 px
REF = TILE // 2  # the reference point / zero shift in tile pixels
LOSSES = ("softmax", "mse", "wmse")  # softmax trains the softmax head; the MSE losses the regression head



def pad_to_tile(chips: np.ndarray) -> np.ndarray:
    """Centre-pad (N, s, s) uint8 chips with zeros to (N, TILE, TILE)."""
    n, s, _ = chips.shape
    if s > TILE:
        raise CoregError(f"Chip of {s} px is larger than the model's {TILE} px tile.")
    lo = (TILE - s) // 2
    out = np.zeros((n, TILE, TILE), np.uint8)
    out[:, lo:lo + s, lo:lo + s] = chips
    return out


def prepare_inputs(eo_chips: np.ndarray, sar_chips: np.ndarray, norm: Normalisation):
    """uint8 chips -> normalised float32 tiles (N, 1, TILE, TILE); nodata and padding are 0."""
    eo, sar = pad_to_tile(eo_chips), pad_to_tile(sar_chips)
    eo_f = np.where(eo > 0, (eo / 255.0 - norm.eo_mean) / norm.eo_std, 0.0).astype(np.float32)
    sar_f = np.where(sar > 0, (sar / 255.0 - norm.sar_mean) / norm.sar_std, 0.0).astype(np.float32)
    return eo_f[:, None], sar_f[:, None]


def gaussian_targets(offsets: np.ndarray, sigma: float) -> np.ndarray:
    """(N, 2) x, y offsets from REF -> (N, TILE, TILE) Gaussians with peak 1."""
    yy, xx = np.mgrid[0:TILE, 0:TILE].astype(np.float32)
    cx = REF + offsets[:, 0, None, None]
    cy = REF + offsets[:, 1, None, None]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2.0 * sigma**2)).astype(np.float32)


def heatmap_surfaces(logits, radius: int, head: str) -> np.ndarray:
    """Network output (N, 1, TILE, TILE) -> similarity surfaces (N, 2r+1, 2r+1) in [0, 1] for find_peaks.
    softmax head: the information in the probability m that the match lies within ±1 px of each shift (3x3
    mass of the spatial softmax over the N-shift window): 1 + log(m) / log(N / 9), clipped to [0, 1], so a
    uniform map gives 0 and a certain peak 1, and summing neighbours' surfaces multiplies their probabilities;
    regression head (MSE losses): the heatmap values, clipped to [0, 1]."""
    import torch

    window = logits[:, 0, REF - radius:REF + radius + 1, REF - radius:REF + radius + 1].float()
    if head == "softmax":
        n = window.shape[0]
        prob = torch.softmax(window.reshape(n, -1), dim=1).reshape(window.shape)
        mass = torch.nn.functional.avg_pool2d(prob[:, None], 3, 1, 1, count_include_pad=False)[:, 0] * 9
        cells = window.shape[-1] * window.shape[-2]
        surfaces = 1.0 + torch.log(mass.clamp_min(1e-12)) / np.log(cells / 9.0)
    else:
        surfaces = window.clamp(0.0, 1.0)
    return surfaces.clamp(0.0, 1.0).cpu().numpy().astype(np.float32)
