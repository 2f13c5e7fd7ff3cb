"""Dense modality-invariant descriptors (the engine's descriptor slot) and the shared correlation code.

A descriptor turns a working-grid image (uint8, 0 = nodata) into a (C, H, W) float map whose per-pixel
vectors are comparable across SAR and EO. `cfog` is hand-made (after Ye et al., CFOG, 2019): sign-free
oriented gradients, smoothed in space and orientation, L2-normalised per pixel. A learned descriptor
model (models/descriptor.py, run by onnxruntime) plugs into the same slot. Nothing here imports torch or the
learned models.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from .choices import Matcher
from .errors import CoregError
from .threads import engine_threads

NUM_ORIENTATIONS = 9
PRE_SIGMA = 1.0  # pre-smoothing, level pixels
FEATURE_SIGMA = 2.0  # spatial aggregation of the oriented gradients, level pixels


class Descriptor(ABC):
    """The descriptor slot: image -> dense descriptor map, the same kind for both modalities."""

    name = ""
    sha256 = None  # learned descriptors: the weights' digest (goes into report.json)
    device = "CPU"  # where it runs, in words (report.json)
    weights_path = None
    context_px = 32  # image around a pixel its descriptor depends on (chips are read with this margin)

    @abstractmethod
    def __call__(self, image: np.ndarray, modality: str) -> np.ndarray:
        """image: (H, W) uint8, 0 = nodata; modality 'eo' or 'sar'. Returns (C, H, W) float32."""

    def with_matchability(self, image: np.ndarray, modality: str):
        """(descriptors, matchability (H, W) in [0, 1] or None): how likely each pixel's window matches within
        1 px, for descriptors that predict it (the learned models' heads); None: no opinion."""
        return self(image, modality), None


class CfogDescriptor(Descriptor):
    """CFOG with OpenCV's separable filters (the engine runs on the CPU; no torch)."""

    name = "cfog"
    context_px = 3 * 1 + 3 * 2 + 1  # the pre-smoothing and feature blurs (3 sigma) and the gradient

    def __call__(self, image, modality):
        return cfog(fill_nodata(image) / 255.0)


def _cv_blur(x: np.ndarray, sigma: float) -> np.ndarray:
    size = 2 * max(1, int(math.ceil(3 * sigma))) + 1
    return cv2.GaussianBlur(x, (size, size), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)


def cfog(image: np.ndarray, pre_sigma: float = PRE_SIGMA, feature_sigma: float = FEATURE_SIGMA) -> np.ndarray:
    """(H, W) float image -> (NUM_ORIENTATIONS, H, W) float32 (models.torch_ops.CfogFeatures is the same in
    torch, for training)."""
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
    """[function(item) for item in items] on all cores, for work that releases the GIL (OpenCV, numpy). A pool
    per call, so calls may nest."""
    with ThreadPoolExecutor(engine_threads()) as pool:
        return list(pool.map(function, items))


def structural_descriptor(params) -> Descriptor:
    """The engine's own descriptor for a request (`params`: CoregParams): CFOG. A learned descriptor comes from
    models/ (`models.descriptor.descriptor_for`), which the front ends pass to the pipeline."""
    if Matcher.parse(params.matcher).needs_model:
        raise CoregError(f"The '{params.matcher}' matcher needs a descriptor model, which this caller did not give; "
                         "run it through the CLI or the plugin.")
    return CfogDescriptor()


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
