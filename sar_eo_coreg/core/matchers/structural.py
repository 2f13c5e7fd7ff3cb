"""Structural matcher: dense oriented-gradient features (CFOG-like) compared by ZNCC through the FFT.

Features: Gaussian pre-smoothing, gradients, |projection| on NUM_ORIENTATIONS directions over 180°
(sign-free, so contrast reversals between SAR and optical do not matter), Gaussian smoothing in space
and along orientation, and L2 normalisation per pixel (as in Ye et al., CFOG, 2019).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..device import resolve_device
from .base import MARGIN, Matcher

NUM_ORIENTATIONS = 9
PRE_SIGMA = 2.0
FEATURE_SIGMA = 3.0
BATCH = 256


def _gaussian_kernel(sigma: float):
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


class CfogFeatures(torch.nn.Module):
    """The CFOG-like features as a module (fixed kernels as non-persistent buffers, so `.to(device)` moves
    them and no weights file stores them); the learned `siamese_corr` model uses the same features."""

    def __init__(self):
        super().__init__()
        angles = torch.arange(NUM_ORIENTATIONS, dtype=torch.float32) * math.pi / NUM_ORIENTATIONS
        self.register_buffer("cos", angles.cos().view(1, -1, 1, 1), persistent=False)
        self.register_buffer("sin", angles.sin().view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pre", _gaussian_kernel(PRE_SIGMA), persistent=False)
        self.register_buffer("post", _gaussian_kernel(FEATURE_SIGMA), persistent=False)

    @staticmethod
    def _blur(x, kernel):
        f = torch.nn.functional
        c = x.shape[1]
        r = kernel.numel() // 2
        kx = kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
        ky = kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
        x = f.conv2d(f.pad(x, (r, r, 0, 0), mode="replicate"), kx, groups=c)
        return f.conv2d(f.pad(x, (0, 0, r, r), mode="replicate"), ky, groups=c)

    def forward(self, images):
        """images: (N, 1, H, W) float -> (N, NUM_ORIENTATIONS, H, W) unit-norm per pixel."""
        f = torch.nn.functional
        x = self._blur(images, self.pre)
        gx = f.pad(x[..., :, 2:] - x[..., :, :-2], (1, 1, 0, 0), mode="replicate") * 0.5
        gy = f.pad(x[..., 2:, :] - x[..., :-2, :], (0, 0, 1, 1), mode="replicate") * 0.5
        feats = (gx * self.cos + gy * self.sin).abs()
        feats = self._blur(feats, self.post)
        feats = 0.5 * feats + 0.25 * (feats.roll(1, dims=1) + feats.roll(-1, dims=1))  # circular in orientation
        return feats / (feats.norm(dim=1, keepdim=True) + 1e-3)


class StructuralMatcher(Matcher):
    name = "structural"

    def __init__(self, device: str = "auto"):
        self.device = resolve_device(device)
        self.features = CfogFeatures().to(self.device)

    # ---- matching -------------------------------------------------------------------------------
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


def _correlate(search, kernel):
    """Valid cross-correlation of each search map with its kernel via FFT, summed over channels.
    search (N, C, M, M), kernel (N, C, k, k) -> (N, M-k+1, M-k+1)."""
    m = search.shape[-1]
    k = kernel.shape[-1]
    fs = torch.fft.rfft2(search, s=(m, m))
    fk = torch.fft.rfft2(kernel, s=(m, m))
    out = torch.fft.irfft2((fs * fk.conj()).sum(1), s=(m, m))
    return out[:, : m - k + 1, : m - k + 1]


def zncc(template, search, sar_invalid):
    """ZNCC of each template (N, C, k, k) at every shift over its search map (N, C, M, M); -1 where the
    window touches invalid SAR (sar_invalid (N, 1, M, M) = 1). Differentiable: the learned matcher uses it too."""
    n, c, k, _ = template.shape
    count = c * k * k
    t0 = template - template.mean(dim=(1, 2, 3), keepdim=True)
    t_norm = t0.flatten(1).norm(dim=1).clamp_min(1e-6).view(n, 1, 1)
    ones = torch.ones((n, 1, k, k), device=template.device)
    numerator = _correlate(search, t0)
    s_sum = _correlate(search.sum(1, keepdim=True), ones)
    s_sq = _correlate((search**2).sum(1, keepdim=True), ones)
    variance = (s_sq - s_sum**2 / count).clamp_min(1e-6)
    score = numerator / (t_norm * variance.sqrt())
    blocked = _correlate(sar_invalid, ones) > 0.5
    return score.masked_fill(blocked, -1.0).clamp(-1.0, 1.0)
