"""torch versions of the engine's fixed operations, for training and the benchmarks (the engine itself runs
without torch): CFOG as a module, differentiable ZNCC, and the torch device choice."""

from __future__ import annotations

import math

import torch

from ..core.errors import CoregError
from ..core.features import FEATURE_SIGMA, NUM_ORIENTATIONS, PRE_SIGMA


def resolve_device(name: str = "auto") -> torch.device:
    """The torch device for training: auto, cpu or cuda."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CoregError("CUDA was asked for but no CUDA GPU is available to torch. Use --device cpu or auto.")
    if name not in ("cpu", "cuda"):
        raise CoregError(f"Unknown device '{name}'. Use auto, cpu or cuda.")
    return torch.device(name)


def _gaussian_kernel(sigma: float):
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-(x**2) / (2 * sigma**2))
    return k / k.sum()


class CfogFeatures(torch.nn.Module):
    """CFOG-like features as a module (fixed kernels as non-persistent buffers, so `.to(device)` moves them
    and no weights file stores them)."""

    def __init__(self, pre_sigma: float = PRE_SIGMA, feature_sigma: float = FEATURE_SIGMA):
        super().__init__()
        angles = torch.arange(NUM_ORIENTATIONS, dtype=torch.float32) * math.pi / NUM_ORIENTATIONS
        self.register_buffer("cos", angles.cos().view(1, -1, 1, 1), persistent=False)
        self.register_buffer("sin", angles.sin().view(1, -1, 1, 1), persistent=False)
        self.register_buffer("pre", _gaussian_kernel(pre_sigma), persistent=False)
        self.register_buffer("post", _gaussian_kernel(feature_sigma), persistent=False)

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


def zncc(template, search, sar_invalid, max_invalid: float = 0.0):
    """ZNCC of each template (N, C, k, k) at every shift over its search map (N, C, M, M); -1 where more than
    `max_invalid` of the window is invalid SAR (sar_invalid (N, 1, M, M) = 1; by default: any). Differentiable
    (the learned models train with it)."""
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
    blocked = _correlate(sar_invalid, ones) > max_invalid * k * k + 0.5
    return score.masked_fill(blocked, -1.0).clamp(-1.0, 1.0)


def _correlate(search, kernel):
    """Valid cross-correlation of each search map with its kernel via FFT, summed over channels.
    search (N, C, M, M), kernel (N, C, k, k) -> (N, M-k+1, M-k+1)."""
    m = search.shape[-1]
    k = kernel.shape[-1]
    fs = torch.fft.rfft2(search, s=(m, m))
    fk = torch.fft.rfft2(kernel, s=(m, m))
    out = torch.fft.irfft2((fs * fk.conj()).sum(1), s=(m, m))
    return out[:, : m - k + 1, : m - k + 1]
