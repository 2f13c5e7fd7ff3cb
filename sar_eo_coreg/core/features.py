"""Dense modality-invariant descriptors (the engine's descriptor slot) and the shared correlation code.

A descriptor turns a working-grid image (uint8, 0 = nodata) into a (C, H, W) float map whose per-pixel
vectors are comparable across SAR and EO. `cfog` is hand-made (after Ye et al., CFOG, 2019): sign-free
oriented gradients, smoothed in space and orientation, L2-normalised per pixel. A learned descriptor
model (models/descriptor.py, e.g. `siamese_corr`) plugs into the same slot. The learned models import from
here; nothing here imports them.
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import torch

from .choices import Matcher
from .device import resolve_device
from .errors import CoregError

NUM_ORIENTATIONS = 9
PRE_SIGMA = 1.0  # pre-smoothing, level pixels
FEATURE_SIGMA = 2.0  # spatial aggregation of the oriented gradients, level pixels


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


class Descriptor(ABC):
    """The descriptor slot: image -> dense descriptor map, the same kind for both modalities."""

    name = ""
    sha256 = None  # learned descriptors: the weights' digest (goes into report.json)
    weights_path = None

    @abstractmethod
    def __call__(self, image: np.ndarray, modality: str) -> np.ndarray:
        """image: (H, W) uint8, 0 = nodata; modality 'eo' or 'sar'. Returns (C, H, W) float32."""


class CfogDescriptor(Descriptor):
    """CFOG on the CPU with OpenCV's separable filters (several times faster there than torch's depthwise
    convolutions; a test checks both give the same numbers), and with the CfogFeatures module on a CUDA device."""

    name = "cfog"

    def __init__(self, device: str = "cpu"):
        self.device = resolve_device(device)
        self.module = CfogFeatures().to(self.device) if self.device.type == "cuda" else None

    def __call__(self, image, modality):
        filled = fill_nodata(image)
        if self.module is None:
            return cfog(filled / 255.0)
        with torch.no_grad():
            return self.module(torch.from_numpy(filled).to(self.device)[None, None] / 255.0)[0].cpu().numpy()


def _cv_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    size = 2 * max(1, int(math.ceil(3 * sigma))) + 1
    return cv2.GaussianBlur(x, (size, size), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def cfog(image: np.ndarray, pre_sigma: float = PRE_SIGMA, feature_sigma: float = FEATURE_SIGMA) -> np.ndarray:
    """(H, W) float image -> (NUM_ORIENTATIONS, H, W) float32, as CfogFeatures."""
    x = _cv_blur(np.asarray(image, np.float32), pre_sigma)
    gx = np.empty_like(x)
    gy = np.empty_like(x)
    gx[:, 1:-1] = (x[:, 2:] - x[:, :-2]) * 0.5
    gx[:, 0], gx[:, -1] = gx[:, 1], gx[:, -2]
    gy[1:-1] = (x[2:] - x[:-2]) * 0.5
    gy[0], gy[-1] = gy[1], gy[-2]
    n = NUM_ORIENTATIONS
    angles = np.arange(n) * math.pi / n
    feats = in_parallel(lambda a: _cv_blur(np.abs(cv2.addWeighted(gx, math.cos(a), gy, math.sin(a), 0.0)),
                                           feature_sigma), angles)
    out = np.empty((n, *x.shape), np.float32)

    def smooth(i):  # circular smoothing in orientation
        cv2.addWeighted(cv2.add(feats[i - 1], feats[(i + 1) % n]), 0.25, feats[i], 0.5, 0.0, dst=out[i])

    in_parallel(smooth, range(n))
    norm = np.zeros(x.shape, np.float32)
    for i in range(n):
        cv2.accumulateSquare(out[i], norm)
    norm = np.sqrt(norm) + np.float32(1e-3)
    in_parallel(lambda i: cv2.divide(out[i], norm, dst=out[i]), range(n))
    return out


def in_parallel(function, items) -> list:
    """[function(item) for item in items] on all cores, for work that releases the GIL (OpenCV, numpy, torch)."""
    with ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        return list(pool.map(function, items))


def structural_descriptor(params) -> Descriptor:
    """The engine's own descriptor for a request (`params`: CoregParams): CFOG. A learned descriptor comes from
    models/ (`models.descriptor.descriptor_for`), which the front ends pass to the pipeline."""
    if Matcher.parse(params.matcher).needs_model:
        raise CoregError(f"The '{params.matcher}' matcher needs a descriptor model, which this caller did not give; "
                         "run it through the CLI or the plugin.")
    return CfogDescriptor(params.device)


def fill_nodata(image: np.ndarray) -> np.ndarray:
    """Nodata (0) replaced by the nearest valid value, so no false edges appear along the footprint."""
    image = np.ascontiguousarray(image)
    invalid = image == 0
    if not invalid.any() or invalid.all():
        return image.astype(np.float32)
    filled = cv2.inpaint(image, invalid.astype(np.uint8), 1, cv2.INPAINT_TELEA) if invalid.mean() < 0.02 else None
    if filled is None:  # large nodata areas: nearest valid pixel via the distance transform's labels
        _, labels = cv2.distanceTransformWithLabels(invalid.astype(np.uint8), cv2.DIST_L2, 3,
                                                    labelType=cv2.DIST_LABEL_PIXEL)
        valid_values = np.zeros(labels.max() + 1, np.uint8)
        valid_values[labels[~invalid]] = image[~invalid]
        filled = valid_values[labels]
    return filled.astype(np.float32)


def downsample(image: np.ndarray, factor: int) -> np.ndarray:
    """A pyramid level of a uint8 working image (0 = nodata): area average; a cell with any nodata is nodata."""
    if factor == 1:
        return image
    h, w = math.ceil(image.shape[0] / factor), math.ceil(image.shape[1] / factor)
    small = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    invalid = cv2.resize((image == 0).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0.25
    small = np.maximum(small, 1)
    small[invalid] = 0
    return small


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
