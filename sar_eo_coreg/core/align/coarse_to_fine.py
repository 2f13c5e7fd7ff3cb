"""Coarse to fine: at each pyramid level the SAR is warped by the current field, the lattice is matched and the
field re-fitted, from the global model down to the working grid."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np

from ..features import Descriptor, downsample
from ..lattice import Lattice
from .field_fit import smooth_fit
from .global_search import GlobalInit
from .lattice_match import CONFIDENT, match_lattice, project

COARSE_MAX_SIDE = 256  # the dense field starts at this level
HALF = 16  # window half-size, level pixels (33 px windows)
STEP = 16  # lattice spacing, level pixels
COARSE_HALF = 16  # window half-size of the coarsest level
COARSE_STEP = 16  # lattice spacing of the coarsest level (denser: the field there carries the large warps)
FINE_RADIUS = (4, 12)  # search radius range of the finer levels (from the coarser fit's spread), level pixels
FINEST_RADIUS = 6  # ... capped on the working grid itself, where a shift costs the most
COARSE_WARP_FRACTION = 0.06  # local deviation from the global model the coarsest level searches, share of its size


@dataclass
class LevelLog:
    """What one pyramid level did: its scale, size, search radius (px), points matched and confident, robust scale (px)."""
    scale: int
    size: Tuple[int, int]
    radius: int
    points: int
    confident: int
    sigma_px: float


@dataclass
class DenseResult:
    """The coarse-to-fine engine's result on the working grid: the field, the finest level's matches and their weights."""
    field: Lattice  # total displacement, working-grid pixels
    measured: np.ndarray  # (ny, nx, 2) finest-level matched displacement
    confidence: np.ndarray  # (ny, nx) matching confidence at the finest level
    robust: np.ndarray  # (ny, nx) robust weight of each measurement in the final fit
    sigma: float  # robust scale of the final fit, working pixels
    levels: List[LevelLog]
    eo_descriptors: np.ndarray  # (m, H, W) of the working grid in the finest level's basis, for the self-check
    basis: np.ndarray  # (C, m) that basis


def pyramid_factors(width: int, height: int, max_side: int) -> int:
    """The smallest power-of-two decimation that brings the larger side to at most `max_side` pixels."""
    factor = 1
    while max(width, height) / factor > max_side:
        factor *= 2
    return factor


def sampling_maps(disp: np.ndarray):
    """cv2.remap maps that sample every pixel p at p + disp(p) (disp (H, W, 2))."""
    h, w = disp.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + disp[..., 0].astype(np.float32), ys + disp[..., 1].astype(np.float32)


def warp_image(image: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """uint8 image resampled at p + disp(p) (disp (H, W, 2)); outside or nodata stays 0."""
    return resample(image, *sampling_maps(disp))


def resample(image: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """uint8 image sampled at (map_x, map_y) (float32, any shape), bilinear; outside or nodata stays 0."""
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    holes = cv2.remap((image == 0).astype(np.uint8), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=1)
    out[holes > 0] = 0
    return out


def window_mean_at(image: np.ndarray, lattice: Lattice, half: int) -> np.ndarray:
    """Mean of `image` over the (2 half + 1)^2 window at each lattice point (ny, nx)."""
    k = 2 * half + 1
    mean = cv2.blur(np.ascontiguousarray(image, np.float32), (k, k), borderType=cv2.BORDER_REPLICATE)
    xs, ys = lattice.coords()
    h, w = image.shape
    cols = np.clip(np.rint(xs).astype(int), 0, w - 1)
    rows = np.clip(np.rint(ys).astype(int), 0, h - 1)
    return mean[np.ix_(rows, cols)]


def refine(eo: np.ndarray, sar: np.ndarray, describe: Descriptor, start: GlobalInit, start_scale: int,
           progress: Optional[Callable[[float, str], None]] = None) -> DenseResult:
    """Coarse-to-fine dense field on the working grid (uint8 images, 0 = nodata), from the global model
    found at pyramid factor `start_scale`."""
    h, w = eo.shape
    top = pyramid_factors(w, h, COARSE_MAX_SIDE)
    scales = [top >> k for k in range(int(math.log2(top)) + 1)]
    levels: List[LevelLog] = []
    current: Optional[Lattice] = None
    work = np.cumsum([0.0] + [(w / s) * (h / s) for s in scales])  # a level's cost grows with its area
    for index, scale in enumerate(scales):
        eo_l, sar_l = downsample(eo, scale), downsample(sar, scale)
        lh, lw = eo_l.shape
        step = COARSE_STEP if current is None else STEP
        if current is None:  # the global model on the first lattice
            current = Lattice.over(lw, lh, step)
            xs, ys = current.coords()
            gx, gy = np.meshgrid(xs, ys)
            ratio = start_scale / scale  # global-init level pixels -> this level's
            px, py = (gx + 0.5) / ratio - 0.5, (gy + 0.5) / ratio - 0.5
            a = start.affine
            current.values = np.stack([a[0, 0] * px + a[0, 1] * py + a[0, 2], a[1, 0] * px + a[1, 1] * py + a[1, 2]],
                                      axis=-1) * ratio
            radius = max(FINE_RADIUS[1], int(math.ceil(COARSE_WARP_FRACTION * max(lw, lh))))
        else:
            current = current.finer(step, lw, lh)
            spread = 2.0 * levels[-1].sigma_px / scale if np.isfinite(levels[-1].sigma_px) else FINE_RADIUS[1]
            radius = int(np.clip(math.ceil(2.5 * spread), *FINE_RADIUS))
            radius = min(radius, FINEST_RADIUS) if scale == 1 else radius
        if progress is not None:
            progress(work[index] / work[-1], f"Dense matching: level {index + 1} of {len(scales)} ({lw}x{lh} px)")
        sar_w = warp_image(sar_l, current.dense(lw, lh))
        (eo_desc, matchability), sar_desc = describe.with_matchability(eo_l, "eo"), describe(sar_w, "sar")
        half = COARSE_HALF if index == 0 else HALF
        meas = match_lattice(eo_desc, sar_desc, eo_l > 0, sar_w > 0, current, radius, half)
        if matchability is not None:  # the descriptor's own estimate of where its windows match
            meas.confidence = meas.confidence * window_mean_at(matchability, current, half)
        measured = current.values + meas.disp
        fitted, robust, sigma = smooth_fit(measured, meas.confidence, prior=current.values)
        if np.isfinite(sigma):
            current.values = fitted
        confident = int((meas.confidence * robust >= CONFIDENT).sum())
        levels.append(LevelLog(scale, (lw, lh), radius, int(meas.confidence.size), confident,
                               float(sigma * scale) if np.isfinite(sigma) else float("nan")))
    return DenseResult(current, measured, meas.confidence, robust, sigma, levels, project(eo_desc, meas.basis),
                       meas.basis)

