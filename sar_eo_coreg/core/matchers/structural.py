"""Structural matcher: dense oriented-gradient features (CFOG-like) compared by ZNCC through the FFT.

Features: Gaussian pre-smoothing, gradients, |projection| on NUM_ORIENTATIONS directions over 180°
(sign-free, so contrast reversals between SAR and optical do not matter), Gaussian smoothing in space
and along orientation, and L2 normalisation per pixel (as in Ye et al., CFOG, 2019).
"""

from __future__ import annotations

import math

import numpy as np

from ..device import resolve_device
from .base import MARGIN, MatchBatch, Matcher

NUM_ORIENTATIONS = 9
PRE_SIGMA = 2.0
FEATURE_SIGMA = 3.0
SECOND_PEAK_EXCLUSION = 3  # px around the best peak ignored when looking for the runner-up
BATCH = 256


def _gaussian_kernel(sigma: float, torch):
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


class StructuralMatcher(Matcher):
    name = "structural"

    def __init__(self, device: str = "auto"):
        import torch

        self.torch = torch
        self.device = resolve_device(device)
        angles = torch.arange(NUM_ORIENTATIONS, dtype=torch.float32) * math.pi / NUM_ORIENTATIONS
        self.cos = angles.cos().view(1, -1, 1, 1).to(self.device)
        self.sin = angles.sin().view(1, -1, 1, 1).to(self.device)
        self.pre = _gaussian_kernel(PRE_SIGMA, torch).to(self.device)
        self.post = _gaussian_kernel(FEATURE_SIGMA, torch).to(self.device)
        self.orient = torch.tensor([0.25, 0.5, 0.25], device=self.device)

    # ---- features -------------------------------------------------------------------------------
    def _blur(self, x, kernel):
        f = self.torch.nn.functional
        c = x.shape[1]
        r = kernel.numel() // 2
        kx = kernel.view(1, 1, 1, -1).repeat(c, 1, 1, 1)
        ky = kernel.view(1, 1, -1, 1).repeat(c, 1, 1, 1)
        x = f.conv2d(f.pad(x, (r, r, 0, 0), mode="replicate"), kx, groups=c)
        return f.conv2d(f.pad(x, (0, 0, r, r), mode="replicate"), ky, groups=c)

    def features(self, images):
        """images: (N, 1, H, W) float in [0, 1] -> (N, NUM_ORIENTATIONS, H, W) unit-norm per pixel."""
        f = self.torch.nn.functional
        x = self._blur(images, self.pre)
        gx = f.pad(x[..., :, 2:] - x[..., :, :-2], (1, 1, 0, 0), mode="replicate") * 0.5
        gy = f.pad(x[..., 2:, :] - x[..., :-2, :], (0, 0, 1, 1), mode="replicate") * 0.5
        feats = (gx * self.cos + gy * self.sin).abs()
        feats = self._blur(feats, self.post)
        feats = 0.5 * feats + 0.25 * (feats.roll(1, dims=1) + feats.roll(-1, dims=1))  # circular in orientation
        return feats / (feats.norm(dim=1, keepdim=True) + 1e-3)

    # ---- matching -------------------------------------------------------------------------------
    def match(self, eo_chips, sar_chips, template_half, radius):
        shifts, scores, valids = [], [], []
        for start in range(0, len(eo_chips), BATCH):
            s, c, v = self._match_batch(
                eo_chips[start:start + BATCH], sar_chips[start:start + BATCH], template_half, radius
            )
            shifts.append(s), scores.append(c), valids.append(v)
        if not shifts:
            return MatchBatch(np.zeros((0, 2)), np.zeros(0), np.zeros(0, bool))
        return MatchBatch(np.concatenate(shifts), np.concatenate(scores), np.concatenate(valids))

    def _match_batch(self, eo_chips, sar_chips, t, r):
        torch = self.torch
        with torch.no_grad():
            eo = torch.from_numpy(np.ascontiguousarray(eo_chips)).to(self.device).float().unsqueeze(1)
            sar = torch.from_numpy(np.ascontiguousarray(sar_chips)).to(self.device).float().unsqueeze(1)
            eo_valid = eo[:, 0, MARGIN:-MARGIN, MARGIN:-MARGIN] > 0
            sar_invalid = (sar[:, :, MARGIN:-MARGIN, MARGIN:-MARGIN] == 0).float()
            template = self.features(eo / 255.0)[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
            search = self.features(sar / 255.0)[..., MARGIN:-MARGIN, MARGIN:-MARGIN]
            zncc = _zncc(template, search, sar_invalid, torch)  # (N, 2r+1, 2r+1)
            return _peaks(zncc, eo_valid, r, torch)


def _correlate(search, kernel, torch):
    """Valid cross-correlation of each search map with its kernel via FFT, summed over channels.
    search (N, C, M, M), kernel (N, C, k, k) -> (N, M-k+1, M-k+1)."""
    m = search.shape[-1]
    k = kernel.shape[-1]
    fs = torch.fft.rfft2(search, s=(m, m))
    fk = torch.fft.rfft2(kernel, s=(m, m))
    out = torch.fft.irfft2((fs * fk.conj()).sum(1), s=(m, m))
    return out[:, : m - k + 1, : m - k + 1]


def _zncc(template, search, sar_invalid, torch):
    n, c, k, _ = template.shape
    count = c * k * k
    t0 = template - template.mean(dim=(1, 2, 3), keepdim=True)
    t_norm = t0.flatten(1).norm(dim=1).clamp_min(1e-6).view(n, 1, 1)
    ones = torch.ones((n, 1, k, k), device=template.device)
    numerator = _correlate(search, t0, torch)
    s_sum = _correlate(search.sum(1, keepdim=True), ones, torch)
    s_sq = _correlate((search**2).sum(1, keepdim=True), ones, torch)
    variance = (s_sq - s_sum**2 / count).clamp_min(1e-6)
    zncc = numerator / (t_norm * variance.sqrt())
    blocked = _correlate(sar_invalid, ones, torch) > 0.5
    return zncc.masked_fill(blocked, -1.0).clamp(-1.0, 1.0)


def _peaks(zncc, eo_valid, r, torch):
    n, size, _ = zncc.shape
    flat = zncc.flatten(1)
    best, index = flat.max(dim=1)
    by, bx = index // size, index % size
    # runner-up outside a small exclusion zone
    yy = torch.arange(size, device=zncc.device).view(1, -1, 1)
    xx = torch.arange(size, device=zncc.device).view(1, 1, -1)
    near = ((yy - by.view(-1, 1, 1)).abs() <= SECOND_PEAK_EXCLUSION) & (
        (xx - bx.view(-1, 1, 1)).abs() <= SECOND_PEAK_EXCLUSION
    )
    second = zncc.masked_fill(near, -1.0).flatten(1).max(dim=1).values
    # sub-pixel: 1-D parabola through the peak and its neighbours, per axis
    inner = (bx > 0) & (bx < size - 1) & (by > 0) & (by < size - 1)
    bxc, byc = bx.clamp(1, size - 2), by.clamp(1, size - 2)
    rows = torch.arange(n, device=zncc.device)

    def parabola(minus, centre, plus):
        denom = minus - 2 * centre + plus
        return torch.where(denom < -1e-9, 0.5 * (minus - plus) / denom, torch.zeros_like(denom)).clamp(-0.5, 0.5)

    dx = parabola(zncc[rows, byc, bxc - 1], zncc[rows, byc, bxc], zncc[rows, byc, bxc + 1])
    dy = parabola(zncc[rows, byc - 1, bxc], zncc[rows, byc, bxc], zncc[rows, byc + 1, bxc])
    shift = torch.stack([bx.float() + dx - r, by.float() + dy - r], dim=1)
    distinct = ((best - second) / (1.0 - second).clamp_min(1e-3)).clamp(0.0, 1.0)
    score = (best.clamp(0.0, 1.0) * distinct).sqrt()
    valid = inner & (best > 0.05) & eo_valid.flatten(1).all(dim=1)
    return shift.cpu().numpy().astype(np.float64), score.cpu().numpy().astype(np.float64), valid.cpu().numpy()
