"""Global initialisation: where the SAR lies relative to the EO over the whole overlap, before any local field.

Masked normalised cross-correlation of the descriptors at a coarse level, by FFT, over the search range and a
small rotation/scale set. The best peak is verified region by region; if none is reliable the answer is "no
alignment".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np
import scipy.fft
from scipy.ndimage import maximum_filter

from ..features import Descriptor
from ..threads import engine_threads
from .lattice_match import principal_basis, project
from .peaks import parabola_offset

GLOBAL_MAX_SIDE = 512  # the global initialisation runs at the first level at most this large
LOCAL_WARP_FRACTION = 0.03  # local deviation from the global model a region's peak may show, share of the size
# Reliability of the global peak, calibrated on 30 unrelated EO/SAR pairs (peak over runner-up <= 1.45, at most
# 2 quadrants confirming) against 60 true ones (ratio >= 3.2 at 3-4 quadrants on the benchmark scenes; 1.8 at
# 4 quadrants on a 384 px crop of the 1 m airport pair, where parallel runways make a rival peak). A peak is
# reliable when it stands out of the surface (z) and either clearly beats every rival with two quadrants
# confirming it, or beats them less clearly with three or more quadrants (each correlated on its own) confirming.
GLOBAL_MIN_Z = 3.0
GLOBAL_RULES = ((2.0, 2), (1.5, 3))  # (minimum ratio, minimum confirming quadrants): either suffices
QUADRANT_MIN_Z = 3.5
# A strong local warp smears the whole-scene peak. So the overlap is also searched in BLOCKS x BLOCKS disjoint
# blocks, each on its own; a model is accepted when more blocks, each with a clear peak of its own, agree on one
# shift (within the local warp a block may carry) than chance allows, even if the whole-scene peak is weak; the
# field then starts from the affine through the agreeing blocks' peaks.
BLOCKS = 3
BLOCK_MIN_Z = 3.5  # a block's peak counts when it stands this far out of its surface (a rival as high is allowed:
# repeated structure in a block is common, and chance is ruled out by the number of blocks that must agree)
BLOCK_TOLERANCE = 0.04  # how far a block's peak may lie from the affine pattern, share of the size (+2 px)
MIN_AGREEING_BLOCKS = 4  # blocks that must agree for the block-wise model alone to be reliable (more where chance
# agreement is likelier than 1e-3: see blocks_needed)
MAX_LINEAR = 0.1  # the block-wise affine may scale, rotate or shear by at most this much
ROTATIONS_DEG = (-2.0, 0.0, 2.0)
SCALES = (0.97, 1.0, 1.03)


@dataclass
class GlobalInit:
    """The global search's answer: an affine displacement model (level pixels) and how strongly it was found."""
    affine: np.ndarray  # (2, 3): displacement d(p) = A @ [x, y, 1], level pixels
    reliable: bool
    z: float  # peak height in robust deviations of the correlation surface
    quadrants: int  # quadrants that confirm the peak (of those with structure)
    ncc: float
    rotation_deg: float = 0.0
    scale: float = 1.0
    ratio: float = 0.0  # peak height over the runner-up's
    blocks: int = 0  # blocks (of BLOCKS x BLOCKS) that agree on the model
    source: str = "whole"  # whole: the whole-scene peak's shift; blocks: the affine of the agreeing block peaks


def valid_mask(image: np.ndarray, erode: int) -> np.ndarray:
    """1.0 where the image has data (> 0), eroded by `erode` pixels from the edges; float64 (H, W)."""
    mask = (image > 0).astype(np.uint8)
    if erode > 0:
        mask = cv2.erode(mask, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8), borderType=cv2.BORDER_CONSTANT,
                         borderValue=0)
    return mask.astype(np.float64)


class _Correlator:
    """Masked NCC of EO descriptors (any sub-mask) against one SAR descriptor map over all shifts, by FFT.
    ncc[d] compares EO at p with SAR at p + d."""

    def __init__(self, sar_desc: np.ndarray, sar_mask: np.ndarray, eo_shape):
        c, h, w = sar_desc.shape
        self.size = (scipy.fft.next_fast_len(h + eo_shape[0]), scipy.fft.next_fast_len(w + eo_shape[1]))
        s0 = (sar_desc - masked_mean(sar_desc, sar_mask)) * sar_mask
        self.fs = scipy.fft.rfft2(s0, s=self.size, workers=min(2, engine_threads()))
        self.fs2 = scipy.fft.rfft2((s0**2).sum(0), s=self.size, workers=min(2, engine_threads()))
        self.fm = scipy.fft.rfft2(sar_mask, s=self.size, workers=min(2, engine_threads()))
        self.sar_count = sar_mask.sum()

    def _corr(self, fa, fb):
        return scipy.fft.irfft2(np.conj(fa) * fb, s=self.size, workers=min(2, engine_threads()))

    def ncc(self, eo_desc: np.ndarray, eo_mask: np.ndarray):
        e0 = (eo_desc - masked_mean(eo_desc, eo_mask)) * eo_mask
        fe = scipy.fft.rfft2(e0, s=self.size, workers=min(2, engine_threads()))
        num = scipy.fft.irfft2((np.conj(fe) * self.fs).sum(0), s=self.size, workers=min(2, engine_threads()))
        fem = scipy.fft.rfft2(eo_mask, s=self.size, workers=min(2, engine_threads()))
        energy_e = self._corr(scipy.fft.rfft2((e0**2).sum(0), s=self.size, workers=min(2, engine_threads())), self.fm)
        energy_s = self._corr(fem, self.fs2)
        overlap = self._corr(fem, self.fm) / max(min(eo_mask.sum(), self.sar_count), 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            ncc = num / np.sqrt(np.maximum(energy_e, 1e-9) * np.maximum(energy_s, 1e-9))
        return np.where(overlap > 0.3, ncc, np.nan)

    def shifts(self):
        """Shift (dx, dy) of each index of the correlation arrays."""
        hy, wx = self.size
        dy = np.where(np.arange(hy) < hy // 2, np.arange(hy), np.arange(hy) - hy)
        dx = np.where(np.arange(wx) < wx // 2, np.arange(wx), np.arange(wx) - wx)
        return dx, dy


def masked_mean(desc, mask):
    """Per-channel mean of descriptors (C, H, W) over the mask; (C, 1, 1)."""
    return (desc * mask).sum(axis=(1, 2), keepdims=True) / max(mask.sum(), 1.0)


def _robust_z(values: np.ndarray, peak: float) -> float:
    finite = values[np.isfinite(values)]
    if finite.size < 16:
        return 0.0
    med = np.median(finite)
    spread = 1.4826 * np.median(np.abs(finite - med))
    return float((peak - med) / max(spread, 1e-6))


def _similarity_resample(image: np.ndarray, rotation_deg: float, scale: float):
    """(image resampled so that output p shows input c + s R (p - c) (c: the centre), the 2x3 matrix of that map)."""
    h, w = image.shape
    c = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    a = math.radians(rotation_deg)
    m = scale * np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    matrix = np.c_[m, c - m @ c]
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0), matrix


def global_init(eo: np.ndarray, sar: np.ndarray, describe: Descriptor, radius: Tuple[float, float],
                rotations=ROTATIONS_DEG, scales=SCALES) -> GlobalInit:
    """Search the whole overlap for the SAR position of the EO (uint8 level images, 0 = nodata), within
    |dx| <= radius[0], |dy| <= radius[1] level pixels. The identity is tried first; a small rotation/scale
    set only when it finds no reliable peak. Descriptors are correlated in their principal directions."""
    eo_raw, eo_mask = describe(eo, "eo"), valid_mask(eo, 2)
    basis = eo_desc = None
    best: Optional[GlobalInit] = None
    combos = [(0.0, 1.0)] + [(r, s) for r in rotations for s in scales if (r, s) != (0.0, 1.0)]
    for rotation, scale in combos:
        if best is not None and best.reliable:
            break
        sar_rs, matrix = _similarity_resample(sar, rotation, scale)
        sar_mask = valid_mask(sar_rs, 2)
        if sar_mask.sum() < 64 or eo_mask.sum() < 64:
            continue
        sar_desc = describe(sar_rs, "sar")
        if basis is None:  # from the first pair tried (both centred)
            basis = principal_basis(eo_raw - masked_mean(eo_raw, eo_mask), sar_desc - masked_mean(sar_desc, sar_mask))
            eo_desc = project(eo_raw, basis).astype(np.float64)
        corr = _Correlator(project(sar_desc, basis).astype(np.float64), sar_mask, eo.shape)
        found = _best_peaks(corr, corr.ncc(eo_desc, eo_mask), radius)
        if not found:
            continue
        z, ratio, (dx, dy), ncc = found
        quadrants = _quadrant_support(corr, eo_desc, eo_mask, (dx, dy), radius)
        whole_reliable = _reliable(z, ratio, quadrants)
        tolerance = 2.0 + BLOCK_TOLERANCE * max(eo.shape)
        # blocks where the whole-scene peak is not enough, on the unrotated SAR (blocks tolerate small rotations)
        blocks = [] if whole_reliable or (rotation, scale) != (0.0, 1.0) else _block_peaks(corr, eo_desc, eo_mask, radius)
        agreeing, local = _block_consensus(blocks, tolerance)
        whole = np.c_[np.zeros((2, 2)), [dx, dy]]
        reliable = whole_reliable or len(agreeing) >= blocks_needed(len(blocks), tolerance, radius)
        model = local if not whole_reliable and local is not None and len(agreeing) >= 3 else whole
        # EO p <-> resampled SAR p + a(p) <-> SAR M [p + a(p); 1]: displacement M [p + a(p); 1] - p
        m, t = matrix[:, :2], matrix[:, 2]
        affine = np.c_[m @ (np.eye(2) + model[:, :2]) - np.eye(2), m @ model[:, 2] + t]
        candidate = GlobalInit(affine, reliable, z, quadrants, ncc, rotation, scale, ratio, len(agreeing),
                               "blocks" if model is local else "whole")
        if best is None or (candidate.reliable, candidate.ratio) > (best.reliable, best.ratio * 1.1):
            best = candidate
    return best or GlobalInit(np.zeros((2, 3)), False, 0.0, 0, 0.0)


def _reliable(z: float, ratio: float, quadrants: int) -> bool:
    return z >= GLOBAL_MIN_Z and any(ratio >= r and quadrants >= q for r, q in GLOBAL_RULES)


def _best_peaks(corr: _Correlator, ncc: np.ndarray, radius):
    """The highest NCC peak within the search box: (z, ratio, (dx, dy), ncc); z is its height in robust
    deviations of the surface, ratio its height over the best distinct runner-up (both above the median)."""
    dx, dy = corr.shifts()
    inside = (np.abs(dy)[:, None] <= radius[1]) & (np.abs(dx)[None, :] <= radius[0]) & np.isfinite(ncc)
    surface = np.where(inside, ncc, -np.inf)
    if not np.isfinite(surface).any():
        return None
    exclusion = max(3, int(round(0.03 * max(ncc.shape))))
    peaks = (surface == maximum_filter(surface, size=2 * exclusion + 1, mode="wrap")) & np.isfinite(surface)
    iy, ix = np.nonzero(peaks)
    order = np.argsort(surface[iy, ix])[::-1][:2]
    values = ncc[inside]
    median = float(np.median(values))
    first = float(surface[iy[order[0]], ix[order[0]]])
    second = float(surface[iy[order[1]], ix[order[1]]]) if len(order) > 1 else median
    ratio = min((first - median) / max(second - median, 1e-6), 99.0)  # no rival above the median: 99
    return (_robust_z(values, first), ratio, _subpixel(ncc, iy[order[0]], ix[order[0]], dx, dy), first)


def _subpixel(ncc, iy, ix, dx, dy):
    h, w = ncc.shape
    centre, left, right = ncc[iy, ix], ncc[iy, (ix - 1) % w], ncc[iy, (ix + 1) % w]
    up, down = ncc[(iy - 1) % h, ix], ncc[(iy + 1) % h, ix]
    return float(dx[ix] + parabola_offset(left, centre, right)), float(dy[iy] + parabola_offset(up, centre, down))



def _quadrant_support(corr: _Correlator, eo_desc, eo_mask, shift, radius) -> int:
    """How many EO quadrants, correlated on their own, peak near `shift` (within the local-warp allowance)."""
    ys, xs = np.nonzero(eo_mask)
    if len(xs) == 0:
        return 0
    cx, cy = np.median(xs), np.median(ys)
    h, w = eo_mask.shape
    tolerance = 2.0 + LOCAL_WARP_FRACTION * max(h, w)
    yy, xx = np.mgrid[0:h, 0:w]
    dx, dy = corr.shifts()
    near = (np.abs(dx[None, :] - shift[0]) <= tolerance) & (np.abs(dy[:, None] - shift[1]) <= tolerance)
    count = 0
    for qx in (xx < cx, xx >= cx):
        for qy in (yy < cy, yy >= cy):
            mask = eo_mask * (qx & qy)
            if mask.sum() < 0.1 * eo_mask.sum():
                continue
            ncc = corr.ncc(eo_desc, mask)
            inside = (np.abs(dy)[:, None] <= radius[1]) & (np.abs(dx)[None, :] <= radius[0]) & np.isfinite(ncc)
            local = np.where(near & inside, ncc, -np.inf)
            if np.isfinite(local).any() and _robust_z(ncc[inside], local.max()) >= QUADRANT_MIN_Z:
                count += 1
    return count



@dataclass
class BlockPeak:
    """The best peak of one block of the EO, correlated on its own: where (block centre) and which shift."""

    centre: np.ndarray  # (2,) level pixels
    shift: np.ndarray  # (2,) level pixels
    z: float
    ratio: float


def _centre(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()]) if len(xs) else np.zeros(2)


def _block_peaks(corr: _Correlator, eo_desc, eo_mask, radius) -> list:
    """The clear peaks of BLOCKS x BLOCKS disjoint blocks of the EO's valid area, each correlated on its own."""
    ys, xs = np.nonzero(eo_mask)
    if len(xs) == 0:
        return []
    x_edges = np.linspace(xs.min(), xs.max() + 1, BLOCKS + 1)
    y_edges = np.linspace(ys.min(), ys.max() + 1, BLOCKS + 1)
    h, w = eo_mask.shape
    col, row = np.arange(w), np.arange(h)
    peaks = []
    for j in range(BLOCKS):
        for i in range(BLOCKS):
            inside = ((row >= y_edges[j]) & (row < y_edges[j + 1]))[:, None] & \
                ((col >= x_edges[i]) & (col < x_edges[i + 1]))[None, :]
            mask = eo_mask * inside
            if mask.sum() < 0.4 * eo_mask.sum() / BLOCKS**2:
                continue
            found = _best_peaks(corr, corr.ncc(eo_desc, mask), radius)
            if found and found[0] >= BLOCK_MIN_Z:
                peaks.append(BlockPeak(_centre(mask), np.array(found[2]), found[0], found[1]))
    return peaks


def _fit_block_affine(blocks: list) -> np.ndarray:
    """(2, 3) displacement affine through the block peaks (a translation below 3 blocks or when the affine
    would scale, rotate or shear by more than MAX_LINEAR)."""
    shifts = np.array([b.shift for b in blocks])
    translation = np.c_[np.zeros((2, 2)), np.median(shifts, axis=0)]
    if len(blocks) < 3:
        return translation
    centres = np.array([b.centre for b in blocks])
    design = np.c_[centres, np.ones(len(blocks))]
    coef, _, rank, _ = np.linalg.lstsq(design, shifts, rcond=None)
    if rank < 3 or np.abs(coef[:2]).max() > MAX_LINEAR:
        return translation
    return coef.T


def _block_consensus(blocks: list, tolerance: float):
    """The largest set of blocks whose peaks agree on one shift within `tolerance` (each block's peak tried as the
    seed), and the affine through them ((2, 3); None when no block has a clear peak)."""
    best = []
    for seed in blocks:
        near = [b for b in blocks if np.hypot(*(b.shift - seed.shift)) <= 2 * tolerance]
        centre = np.median([b.shift for b in near], axis=0)
        members = [b for b in blocks if np.hypot(*(b.shift - centre)) <= tolerance]
        if len(members) > len(best):
            best = members
    return best, (_fit_block_affine(best) if best else None)


def blocks_needed(strong: int, tolerance: float, radius) -> int:
    """How many of `strong` block peaks must agree before chance is ruled out: peaks of unrelated images fall
    anywhere in the search box, each within `tolerance` of a given shift with probability p = pi tol^2 / box; the
    number is the smallest k (at least MIN_AGREEING_BLOCKS) with strong * C(strong - 1, k - 1) p^(k - 1) < 1e-3."""
    box = (2 * radius[0] + 1) * (2 * radius[1] + 1)
    p = min(1.0, math.pi * tolerance**2 / box)
    for k in range(MIN_AGREEING_BLOCKS, strong + 1):
        if strong * math.comb(strong - 1, k - 1) * p ** (k - 1) < 1e-3:
            return k
    return strong + 1  # never: the search box is too small for blocks to tell
