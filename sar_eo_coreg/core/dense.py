"""The matching core: a dense coarse-to-fine displacement field with a per-point confidence.

1. Global initialisation (`global_init`): masked normalised cross-correlation of the whole overlap's
   descriptors at a coarse level, by FFT, over the search range and a small rotation/scale set. The
   best peaks are verified quadrant by quadrant; if none is reliable the answer is "no alignment".
2. Coarse to fine (`refine`): at each pyramid level the SAR is warped by the current field, both images
   get dense descriptors, and a lattice of windows is matched over a small radius (cost volume from block
   sums of per-shift products, in the descriptors' principal directions: forward and backward in one pass).
   Each lattice point gets a displacement and a confidence (peak height, margin over the runner-up,
   forward-backward agreement).
3. A robust smooth fit (`smooth_fit`) turns the measurements into the next field: confidence-weighted
   least squares with a bending penalty (whose null space is the affine model), Tukey re-weighting,
   and graduated smoothing, so a deviation from the global model must be backed by confident evidence.

All positions here are in pixels of one pyramid level; `Lattice` carries the field between levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, List, Optional, Tuple

import cv2
import numpy as np
import scipy.fft
import scipy.sparse as sp
import torch
from scipy.ndimage import maximum_filter
from scipy.sparse.linalg import splu

from .features import Descriptor, downsample, in_parallel
from .lattice import Lattice

GLOBAL_MAX_SIDE = 512  # the global initialisation runs at the first level at most this large
COARSE_MAX_SIDE = 256  # the dense field starts at this level
HALF = 16  # window half-size, level pixels (33 px windows)
STEP = 16  # lattice spacing, level pixels
FINE_RADIUS = (4, 6)  # search radius range of the finer levels (from the coarser fit's spread), level pixels
LOCAL_WARP_FRACTION = 0.03  # local deviation from the global model the coarsest level allows, share of its size
MIN_VALID = 0.6  # share of valid pixels a window needs in both images
SMOOTHNESS = 3.0  # bending weight of the field fit, in lattice units
TUKEY_C = 3.0  # robust scale multiples beyond which a measurement gets no weight
MIN_SIGMA = 0.5  # floor of the robust scale, level pixels
# Reliability of the global peak, calibrated on 30 unrelated EO/SAR pairs (peak over runner-up <= 1.45, at most
# 2 quadrants confirming) against 60 true ones (ratio >= 3.2 at 3-4 quadrants on the benchmark scenes; 1.8 at
# 4 quadrants on a 384 px crop of the 1 m airport pair, where parallel runways make a rival peak). A peak is
# reliable when it stands out of the surface (z) and either clearly beats every rival with two quadrants
# confirming it, or beats them less clearly with three or more quadrants (each correlated on its own) confirming.
GLOBAL_MIN_Z = 3.0
GLOBAL_RULES = ((2.0, 2), (1.5, 3))  # (minimum ratio, minimum confirming quadrants): either suffices
QUADRANT_MIN_Z = 3.5
ROTATIONS_DEG = (-2.0, 0.0, 2.0)
SCALES = (0.97, 1.0, 1.03)


# ---- global initialisation ---------------------------------------------------------------------------
@dataclass
class GlobalInit:
    affine: np.ndarray  # (2, 3): displacement d(p) = A @ [x, y, 1], level pixels
    reliable: bool
    z: float  # peak height in robust deviations of the correlation surface
    quadrants: int  # quadrants that confirm the peak (of those with structure)
    ncc: float
    rotation_deg: float = 0.0
    scale: float = 1.0
    ratio: float = 0.0  # peak height over the runner-up's


def _valid_mask(image: np.ndarray, erode: int) -> np.ndarray:
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
        s0 = (sar_desc - _masked_mean(sar_desc, sar_mask)) * sar_mask
        self.fs = scipy.fft.rfft2(s0, s=self.size, workers=2)
        self.fs2 = scipy.fft.rfft2((s0**2).sum(0), s=self.size, workers=2)
        self.fm = scipy.fft.rfft2(sar_mask, s=self.size, workers=2)
        self.sar_count = sar_mask.sum()

    def _corr(self, fa, fb):
        return scipy.fft.irfft2(np.conj(fa) * fb, s=self.size, workers=2)

    def ncc(self, eo_desc: np.ndarray, eo_mask: np.ndarray):
        e0 = (eo_desc - _masked_mean(eo_desc, eo_mask)) * eo_mask
        fe = scipy.fft.rfft2(e0, s=self.size, workers=2)
        num = scipy.fft.irfft2((np.conj(fe) * self.fs).sum(0), s=self.size, workers=2)
        fem = scipy.fft.rfft2(eo_mask, s=self.size, workers=2)
        energy_e = self._corr(scipy.fft.rfft2((e0**2).sum(0), s=self.size, workers=2), self.fm)
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


def _masked_mean(desc, mask):
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
    eo_raw, eo_mask = describe(eo, "eo"), _valid_mask(eo, 2)
    basis = eo_desc = None
    best: Optional[GlobalInit] = None
    combos = [(0.0, 1.0)] + [(r, s) for r in rotations for s in scales if (r, s) != (0.0, 1.0)]
    for rotation, scale in combos:
        if best is not None and best.reliable:
            break
        sar_rs, matrix = _similarity_resample(sar, rotation, scale)
        sar_mask = _valid_mask(sar_rs, 2)
        if sar_mask.sum() < 64 or eo_mask.sum() < 64:
            continue
        sar_desc = describe(sar_rs, "sar")
        if basis is None:  # from the first pair tried (both centred)
            basis = _principal_basis(eo_raw - _masked_mean(eo_raw, eo_mask), sar_desc - _masked_mean(sar_desc, sar_mask))
            eo_desc = _project(eo_raw, basis).astype(np.float64)
        corr = _Correlator(_project(sar_desc, basis).astype(np.float64), sar_mask, eo.shape)
        found = _best_peaks(corr, corr.ncc(eo_desc, eo_mask), radius)
        if not found:
            continue
        z, ratio, (dx, dy), ncc = found
        # EO p <-> resampled SAR p + d <-> SAR M [p + d; 1]: displacement M [p + d; 1] - p
        m, t = matrix[:, :2], matrix[:, 2]
        affine = np.c_[m - np.eye(2), m @ np.array([dx, dy]) + t]
        quadrants = _quadrant_support(corr, eo_desc, eo_mask, (dx, dy), radius)
        candidate = GlobalInit(affine, _reliable(z, ratio, quadrants), z, quadrants, ncc, rotation, scale, ratio)
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


def parabola_offset(minus, centre, plus):
    """Sub-pixel offset of a peak from its value and its two neighbours (in [-0.5, 0.5]; NaN counts as -1)."""
    minus, centre, plus = (np.nan_to_num(np.asarray(v, np.float64), nan=-1.0) for v in (minus, centre, plus))
    denom = minus - 2 * centre + plus
    with np.errstate(divide="ignore", invalid="ignore"):
        offset = np.where(denom < -1e-9, 0.5 * (minus - plus) / denom, 0.0)
    return np.clip(offset, -0.5, 0.5)


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


# ---- one level of the dense field --------------------------------------------------------------------
@dataclass
class Measurements:
    """Per lattice point of one level: the matched total displacement and its evidence."""

    disp: np.ndarray  # (ny, nx, 2) level pixels
    confidence: np.ndarray  # (ny, nx) in [0, 1]: peak height, margin, forward-backward agreement; 0 = unusable
    basis: np.ndarray  # (C, m) principal directions of the descriptors the matching used


def _box_sums(image: np.ndarray, half: int) -> np.ndarray:
    """Sums over the (2 half + 1)^2 window centred at every pixel (zero outside the image), float32."""
    k = 2 * half + 1
    return cv2.boxFilter(np.ascontiguousarray(image, np.float32), -1, (k, k), normalize=False,
                         borderType=cv2.BORDER_CONSTANT)


def _local_zero_mean(desc: np.ndarray, half: int, valid: np.ndarray, pad: int = 0) -> np.ndarray:
    """Each channel minus its local (window) mean, zero where invalid and in a border of `pad` px around the
    image, so window correlations are zero-normalised."""
    k = 2 * half + 1
    c, h, w = desc.shape
    out = np.zeros((c, h + 2 * pad, w + 2 * pad), np.float32)
    mask = valid.astype(np.float32)

    def channel(i):
        values = np.ascontiguousarray(desc[i], np.float32)
        local = cv2.blur(values, (k, k), borderType=cv2.BORDER_REPLICATE)
        cv2.multiply(cv2.subtract(values, local), mask, dst=out[i, pad:pad + h, pad:pad + w])

    in_parallel(channel, range(c))
    return out


MATCH_ENERGY = 0.999  # share of the descriptors' energy the lattice matching keeps (principal directions)


def _principal_basis(e: np.ndarray, s: np.ndarray, keep: float = MATCH_ENERGY) -> np.ndarray:
    """The fewest orthonormal directions (C, m) of the channel space that hold `keep` of the energy of both
    (locally zero-mean) descriptor maps. Dot products in them differ from the full ones by at most the energy
    left out: CFOG, smooth in orientation, needs 5 of its 9 channels for 99.9 %."""
    c = e.shape[0]
    sample = np.concatenate([e.reshape(c, -1)[:, ::7], s.reshape(c, -1)[:, ::7]], axis=1).astype(np.float64)
    values, vectors = np.linalg.eigh(sample @ sample.T)
    values, vectors = values[::-1], vectors[:, ::-1]
    share = np.cumsum(values) / max(values.sum(), 1e-30)
    m = min(int(np.searchsorted(share, keep)) + 1, c)
    return np.ascontiguousarray(vectors[:, :m], np.float32)


def _project(desc: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(C, H, W) descriptors in the basis (C, m) -> (m, H, W)."""
    c, h, w = desc.shape
    return (basis.T @ desc.reshape(c, -1)).reshape(-1, h, w)


def _dot(e: np.ndarray, s: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """Per-pixel dot product over channels of (C, H, W) maps, accumulated in place (memory traffic, not
    arithmetic, is the cost)."""
    out = np.empty(e.shape[1:], np.float32) if out is None else out
    te, ts, to = torch.from_numpy(e), torch.from_numpy(s), torch.from_numpy(out)
    torch.mul(te[0], ts[0], out=to)
    for c in range(1, e.shape[0]):
        to.addcmul_(te[c], ts[c])
    return out


def _lattice_sums(image: torch.Tensor, x0: int, y0: int, nx: int, ny: int, step: int, half: int) -> np.ndarray:
    """Sums of `image` (H, W) over the (2 half + 1)^2 windows centred at (x0 + step i, y0 + step j), i < nx,
    j < ny, all inside the image. A window is 2 half / step blocks of step x step pixels a side plus one row and
    one column, so one pass of block sums serves every window."""
    m = 2 * half // step
    assert m * step == 2 * half, "windows must be a whole number of lattice steps"
    blocks = image[y0 - half:y0 - half + step * (ny + m - 1)].reshape(ny + m - 1, step, -1).sum(1)
    rows = sum(blocks[k:k + ny] for k in range(m)) + image[y0 + half:y0 + half + step * ny:step]
    blocks = rows[:, x0 - half:x0 - half + step * (nx + m - 1)].reshape(ny, nx + m - 1, step).sum(2)
    return (sum(blocks[:, k:k + nx] for k in range(m)) + rows[:, x0 + half:x0 + half + step * nx:step]).double().numpy()


def match_lattice(eo_desc, sar_desc, eo_valid, sar_valid, lattice: Lattice, radius: int, half: int) -> Measurements:
    """Match EO windows at the lattice points against the (already warped) SAR within +-radius px.

    eo_desc, sar_desc: (C, H, W) on the same level grid; *_valid: (H, W) bool. Returns the update (the
    displacement relative to the warped SAR) with its evidence. Per shift d, one product image e(q) s(q + d)
    serves both directions: its window sum at p is the forward score (EO at p, SAR at p + d), at p - d the
    backward one (SAR at p, EO at p - d). Everything is zero-padded so windows near the border are summed over
    their part inside the image."""
    r, pad = radius, half + radius
    e = _local_zero_mean(eo_desc, half, eo_valid, pad=pad)
    s = _local_zero_mean(sar_desc, half, sar_valid, pad=pad + r)
    basis = _principal_basis(e, s)
    e, s = _project(e, basis), _project(s, basis)
    _, hp, wp = e.shape  # the padded level
    xs, ys = lattice.coords()
    x0, y0, step = int(round(xs[0])) + pad, int(round(ys[0])) + pad, int(lattice.step)  # padded coordinates
    nx, ny = len(xs), len(ys)
    cx, cy = np.meshgrid(x0 + step * np.arange(nx), y0 + step * np.arange(ny))
    e_energy = _box_sums(_dot(e, e), half)
    s_energy = _box_sums(_dot(s[:, r:r + hp, r:r + wp], s[:, r:r + hp, r:r + wp]), half)
    area = float((2 * half + 1) ** 2)
    e_ok = _box_sums(np.pad(eo_valid, pad), half) / area >= MIN_VALID
    s_ok = _box_sums(np.pad(sar_valid, pad), half) / area >= MIN_VALID
    size = 2 * r + 1
    forward = np.full((size * size, ny, nx), -1.0)
    backward = np.full_like(forward, -1.0)
    en_e, en_s = e_energy[cy, cx], s_energy[cy, cx]
    ok_e, ok_s = e_ok[cy, cx], s_ok[cy, cx]
    prod = np.empty((hp, wp), np.float32)
    product = torch.from_numpy(prod)
    for k in range(size * size):
        ddy, ddx = divmod(k, size)
        ddy, ddx = ddy - r, ddx - r
        _dot(e, s[:, r + ddy:r + ddy + hp, r + ddx:r + ddx + wp], prod)
        fy, fx, by, bx = cy + ddy, cx + ddx, cy - ddy, cx - ddx
        den = np.sqrt(np.maximum(en_e * s_energy[fy, fx], 1e-18))
        num = _lattice_sums(product, x0, y0, nx, ny, step, half)
        forward[k] = np.where(ok_e & s_ok[fy, fx], num / den, -1.0)
        den_b = np.sqrt(np.maximum(e_energy[by, bx] * en_s, 1e-18))
        num_b = _lattice_sums(product, x0 - ddx, y0 - ddy, nx, ny, step, half)
        backward[k] = np.where(ok_s & e_ok[by, bx], num_b / den_b, -1.0)
    fwd = forward.reshape(size, size, ny, nx)
    bwd = backward.reshape(size, size, ny, nx)
    upd, peak, second, inner = _surface_peaks(fwd, radius)
    upd_b, _, _, inner_b = _surface_peaks(bwd, radius)
    fb = np.hypot(*(upd - upd_b).transpose(2, 0, 1))
    distinct = np.clip((peak - second) / np.maximum(1.0 - second, 1e-3), 0.0, 1.0)
    confidence = np.clip(peak, 0.0, 1.0) * np.sqrt(distinct) / (1.0 + fb**2)
    usable = inner & inner_b & (peak > 0.0) & ok_e
    confidence = np.where(usable, confidence, 0.0)
    return Measurements(upd, confidence, basis)


def _surface_peaks(surfaces: np.ndarray, radius: int):
    """surfaces (S, S, ny, nx) over shifts -> sub-pixel best shift (ny, nx, 2), peak, runner-up (more than 1 px
    away) and whether the peak lies inside the search area (not on its border)."""
    size = surfaces.shape[0]
    flat = surfaces.reshape(size * size, *surfaces.shape[2:])
    best = flat.argmax(axis=0)
    by, bx = np.divmod(best, size)
    peak = np.take_along_axis(flat, best[None], 0)[0]
    grid_y, grid_x = np.divmod(np.arange(size * size), size)
    far = (np.abs(grid_y[:, None, None] - by[None]) > 1) | (np.abs(grid_x[:, None, None] - bx[None]) > 1)
    second = np.where(far, flat, -1.0).max(axis=0)
    inner = (bx > 0) & (bx < size - 1) & (by > 0) & (by < size - 1)
    byc, bxc = np.clip(by, 1, size - 2), np.clip(bx, 1, size - 2)
    jj, ii = np.indices(by.shape)
    dx = parabola_offset(surfaces[byc, bxc - 1, jj, ii], surfaces[byc, bxc, jj, ii], surfaces[byc, bxc + 1, jj, ii])
    dy = parabola_offset(surfaces[byc - 1, bxc, jj, ii], surfaces[byc, bxc, jj, ii], surfaces[byc + 1, bxc, jj, ii])
    shift = np.stack([bx - radius + np.where(inner, dx, 0.0), by - radius + np.where(inner, dy, 0.0)], axis=-1)
    return shift, peak, second, inner


# ---- robust smooth fit on the lattice --------------------------------------------------------------------
def _bending(ny: int, nx: int):
    def second_diff(m):
        return sp.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(max(m - 2, 0), m))

    def first_diff(m):
        return sp.diags([-1.0, 1.0], [0, 1], shape=(max(m - 1, 0), m))

    ix, iy = sp.identity(nx), sp.identity(ny)
    parts = [sp.kron(iy, second_diff(nx)), sp.kron(second_diff(ny), ix), sp.kron(first_diff(ny), first_diff(nx)) * 2**0.5]
    reg = sp.vstack([p for p in parts if p.shape[0] > 0]).tocsr()
    return (reg.T @ reg).tocsc()


def _weighted_affine(points, values, weights):
    design = np.c_[points, np.ones(len(points))]
    sw = np.sqrt(weights)[:, None]
    coef, *_ = np.linalg.lstsq(design * sw, values * sw, rcond=None)
    return coef  # (3, 2)


def smooth_fit(measured: np.ndarray, confidence: np.ndarray, smoothness: float = None, min_sigma: float = MIN_SIGMA):
    """Robust, confidence-weighted smooth field through lattice measurements (ny, nx, 2).

    Minimises sum w_i |f_i - u_i|^2 + lambda |bending(f)|^2 with Tukey weights, first with a stiff field
    (nearly the weighted affine), then softer: a local deviation survives only if confident measurements
    carry it. Returns (field (ny, nx, 2), robust weight (ny, nx) in [0, 1], robust scale)."""
    smoothness = SMOOTHNESS if smoothness is None else smoothness
    ny, nx = confidence.shape
    n = ny * nx
    u = measured.reshape(n, 2)
    conf = confidence.reshape(n).astype(np.float64)
    if (conf > 0).sum() < 3:
        return np.zeros_like(measured), np.zeros_like(confidence), float("nan")
    jj, ii = np.divmod(np.arange(n), nx)
    points = np.c_[ii, jj].astype(np.float64)
    robust = np.ones(n)
    bending = _bending(ny, nx) if n >= 9 and ny >= 3 and nx >= 3 else None
    mean_conf = conf[conf > 0].mean()
    field_values = None
    sigma = float("nan")
    for stiffness in (1e4, 1e2, 1.0, 1.0):
        w = conf * robust
        if bending is None or (w > 0).sum() < 6:
            coef = _weighted_affine(points, u, np.maximum(w, 1e-12))
            field_values = np.c_[points, np.ones(n)] @ coef
        else:
            system = sp.diags(w) + bending * (smoothness * stiffness * mean_conf) + sp.identity(n) * 1e-9
            lu = splu(system.tocsc(), permc_spec="MMD_AT_PLUS_A", options={"SymmetricMode": True})
            field_values = lu.solve(w[:, None] * u)
        residual = np.hypot(*(u - field_values).T)
        used = conf > 0
        sigma = max(min_sigma, 1.4826 * _weighted_median(residual[used], conf[used]))
        t = residual / (TUKEY_C * sigma)
        robust = np.where(t < 1.0, (1.0 - t**2) ** 2, 0.0)
    return field_values.reshape(ny, nx, 2), robust.reshape(ny, nx), sigma


def _weighted_median(values, weights):
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


# ---- coarse to fine ---------------------------------------------------------------------------------------
@dataclass
class LevelLog:
    scale: int
    size: Tuple[int, int]
    radius: int
    points: int
    confident: int
    sigma_px: float


@dataclass
class DenseResult:
    field: Lattice  # total displacement, working-grid pixels
    measured: np.ndarray  # (ny, nx, 2) finest-level matched displacement
    confidence: np.ndarray  # (ny, nx) matching confidence at the finest level
    robust: np.ndarray  # (ny, nx) robust weight of each measurement in the final fit
    sigma: float  # robust scale of the final fit, working pixels
    levels: List[LevelLog]
    eo_descriptors: np.ndarray  # (m, H, W) of the working grid in the finest level's basis, for the self-check
    basis: np.ndarray  # (C, m) that basis


def pyramid_factors(width: int, height: int, max_side: int) -> int:
    factor = 1
    while max(width, height) / factor > max_side:
        factor *= 2
    return factor


def _sampling_maps(disp: np.ndarray):
    """cv2.remap maps that sample every pixel p at p + disp(p) (disp (H, W, 2))."""
    h, w = disp.shape[:2]
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return xs + disp[..., 0].astype(np.float32), ys + disp[..., 1].astype(np.float32)


def warp_image(image: np.ndarray, disp: np.ndarray) -> np.ndarray:
    """uint8 image resampled at p + disp(p) (disp (H, W, 2)); outside or nodata stays 0."""
    map_x, map_y = _sampling_maps(disp)
    out = cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    holes = cv2.remap((image == 0).astype(np.uint8), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=1)
    out[holes > 0] = 0
    return out


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
        step = STEP
        if current is None:  # the global model on the first lattice
            current = Lattice.over(lw, lh, step)
            xs, ys = current.coords()
            gx, gy = np.meshgrid(xs, ys)
            ratio = start_scale / scale  # global-init level pixels -> this level's
            px, py = (gx + 0.5) / ratio - 0.5, (gy + 0.5) / ratio - 0.5
            a = start.affine
            current.values = np.stack([a[0, 0] * px + a[0, 1] * py + a[0, 2], a[1, 0] * px + a[1, 1] * py + a[1, 2]],
                                      axis=-1) * ratio
            radius = max(FINE_RADIUS[1], int(math.ceil(LOCAL_WARP_FRACTION * max(lw, lh))))
        else:
            current = current.finer(step, lw, lh)
            spread = 2.0 * levels[-1].sigma_px / scale if np.isfinite(levels[-1].sigma_px) else FINE_RADIUS[1]
            radius = int(np.clip(math.ceil(2.5 * spread), *FINE_RADIUS))
        if progress is not None:
            progress(work[index] / work[-1], f"Dense matching: level {index + 1} of {len(scales)} ({lw}x{lh} px)")
        sar_w = warp_image(sar_l, current.dense(lw, lh))
        eo_desc, sar_desc = describe(eo_l, "eo"), describe(sar_w, "sar")
        meas = match_lattice(eo_desc, sar_desc, eo_l > 0, sar_w > 0, current, radius, HALF)
        measured = current.values + meas.disp
        fitted, robust, sigma = smooth_fit(measured, meas.confidence)
        if np.isfinite(sigma):
            current.values = fitted
        confident = int((meas.confidence * robust >= CONFIDENT).sum())
        levels.append(LevelLog(scale, (lw, lh), radius, int(meas.confidence.size), confident,
                               float(sigma * scale) if np.isfinite(sigma) else float("nan")))
    return DenseResult(current, measured, meas.confidence, robust, sigma, levels, _project(eo_desc, meas.basis),
                       meas.basis)


# ---- self-check: "do no harm" ------------------------------------------------------------------------
REGION_CELLS = 6  # self-check regions: this many lattice cells a side
REGION_WORSE = 0.02  # a region whose similarity drops this much below the global model's ...
REGION_WORSE_T = 2.0  # ... by this many standard errors falls back to the global model
MIN_REGION_POINTS = 3  # confident measurements a region needs (or 3x that in its 3x3 neighbourhood of regions)
CONFIDENT = 0.05  # a measurement at least this confident (and kept by the robust fit) counts as support
MIN_IMPROVEMENT_T = 4.0  # the aligned result must beat the input by this many standard errors


class WindowSimilarity:
    """Zero-shift NCC of descriptor windows at the lattice points, EO against any (already warped) SAR; the
    EO side is prepared once."""

    def __init__(self, eo_desc, eo_valid, lattice: Lattice, half: int = HALF):
        self.half = half
        self.area = float((2 * half + 1) ** 2)
        xs, ys = lattice.coords()  # windows summed on images zero-padded by `half`
        self.x0, self.y0 = int(round(xs[0])) + half, int(round(ys[0])) + half
        self.nx, self.ny, self.step = len(xs), len(ys), int(lattice.step)
        self.e = _local_zero_mean(eo_desc, half, eo_valid, pad=half)
        self.en_e = self._at(_dot(self.e, self.e))
        self.ok_e = self._at(np.pad(eo_valid, half)) / self.area >= MIN_VALID

    def _at(self, padded):
        image = torch.from_numpy(np.ascontiguousarray(padded, np.float32))
        return _lattice_sums(image, self.x0, self.y0, self.nx, self.ny, self.step, self.half)

    def __call__(self, sar_desc, sar_valid):
        """(NCC at each lattice point, whether its windows are valid in both)."""
        s = _local_zero_mean(sar_desc, self.half, sar_valid, pad=self.half)
        ncc = self._at(_dot(self.e, s)) / np.sqrt(np.maximum(self.en_e * self._at(_dot(s, s)), 1e-18))
        return ncc, self.ok_e & (self._at(np.pad(sar_valid, self.half)) / self.area >= MIN_VALID)


def warp_descriptors(desc: np.ndarray, valid: np.ndarray, disp: np.ndarray):
    """Descriptor maps (C, H, W) and their validity resampled at p + disp(p)."""
    map_x, map_y = _sampling_maps(disp)
    out = np.stack([cv2.remap(np.ascontiguousarray(c, np.float32), map_x, map_y, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE) for c in desc])
    inside = cv2.remap(valid.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=0) > 0
    return out, inside


@dataclass
class Alignment:
    """The engine's answer on the working grid."""

    field: Lattice  # displacement, working pixels (zero when not aligned)
    confidence: Lattice  # (ny, nx, 1) in [0, 1]
    verdict: str  # aligned | aligned_partly | not_aligned
    message: str
    tiepoints: dict  # eo_px, disp, score, inlier (working pixels)
    report: dict


def _regions(shape, cells=REGION_CELLS):
    """Region index of every lattice point, and the (rows, columns) of regions."""
    ny, nx = shape
    ry, rx = max(1, round(ny / cells)), max(1, round(nx / cells))
    jj, ii = np.indices(shape)
    return (jj * ry // ny) * rx + ii * rx // nx, (ry, rx)


def _paired_t(better: np.ndarray, worse: np.ndarray) -> Tuple[float, float]:
    """Mean gain and its t statistic; neighbouring windows overlap, so a quarter of them count as independent."""
    diff = better - worse
    if diff.size < 4:
        return float(diff.mean()) if diff.size else 0.0, 0.0
    spread = diff.std(ddof=1) / math.sqrt(max(diff.size / 4.0, 1.0))
    return float(diff.mean()), float(diff.mean() / max(spread, 1e-9))


def self_check(eo, sar, describe, result: DenseResult):
    """Per region: is the local field better than the global (affine) model? Overall: is the result better
    than the input georeference? Returns (final field, per-lattice-point weight of the local field (1) against
    the global model (0), statistics, mean similarity gain over the input, its t)."""
    h, w = eo.shape
    lattice = result.field
    xs, ys = lattice.coords()
    gx, gy = np.meshgrid(xs, ys)
    weight = (result.confidence * result.robust).ravel()
    points = np.c_[gx.ravel(), gy.ravel()]
    if (weight > 0).sum() >= 3:
        coef = _weighted_affine(points, result.measured.reshape(-1, 2), np.maximum(weight, 1e-12))
    else:
        coef = np.zeros((3, 2))
    global_values = (np.c_[points, np.ones(len(points))] @ coef).reshape(lattice.values.shape)
    global_field = Lattice(lattice.x0, lattice.y0, lattice.step, global_values)
    sar_desc = _project(describe(sar, "sar"), result.basis)
    window_similarity = WindowSimilarity(result.eo_descriptors, eo > 0, lattice)

    def similarity(candidate: Optional[Lattice]):
        moved, moved_valid = (sar_desc, sar > 0) if candidate is None else warp_descriptors(
            sar_desc, sar > 0, candidate.dense(w, h))
        return window_similarity(moved, moved_valid)

    sims = dict(zip(("input", "global", "local"), in_parallel(similarity, (None, global_field, lattice))))
    valid = sims["input"][1] & sims["global"][1] & sims["local"][1]
    region, (ry, rx) = _regions(lattice.shape)
    confident = (result.confidence * result.robust) >= CONFIDENT
    counts = np.bincount(region.ravel(), weights=confident.ravel(), minlength=ry * rx).reshape(ry, rx)
    around = cv2.boxFilter(counts, -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
    keep = np.ones(lattice.shape)
    worse_regions = unsupported = 0
    fallback = []  # where the global model was kept, and why
    for r in range(ry * rx):
        inside = region == r
        v = inside & valid
        drop, t = _paired_t(sims["local"][0][v], sims["global"][0][v]) if v.sum() >= 4 else (0.0, 0.0)
        worse = drop < -REGION_WORSE and t < -REGION_WORSE_T
        alone = counts.flat[r] < MIN_REGION_POINTS and around.flat[r] < MIN_REGION_POINTS * 3
        if worse or alone:
            keep[inside] = 0.0
            worse_regions += int(worse)
            unsupported += int(alone and not worse)
            fallback.append({"reason": "worse" if worse else "unsupported",
                             "working_px": _region_box(gx[inside], gy[inside], lattice.step, w, h)})
    blend = cv2.GaussianBlur(keep, (0, 0), 1.0) if min(lattice.shape) > 2 else keep
    values = blend[..., None] * lattice.values + (1.0 - blend[..., None]) * global_values
    final = Lattice(lattice.x0, lattice.y0, lattice.step, values)
    sim_final, valid_final = similarity(final)
    both = valid & valid_final
    gain, t = _paired_t(sim_final[both], sims["input"][0][both])
    stats = {"regions": ry * rx, "regions_fallen_back": worse_regions + unsupported, "regions_worse": worse_regions,
             "regions_unsupported": unsupported, "fallback_regions": fallback,
             "similarity_input": _mean(sims["input"][0][both]),
             "similarity_global": _mean(sims["global"][0][both]), "similarity_result": _mean(sim_final[both]),
             "gain_t": round(t, 2)}
    return final, blend, stats, gain, t


def _region_box(xs, ys, step, width, height):
    """The working-grid pixels a region's lattice points stand for: [col0, row0, col1, row1] (pixel edges)."""
    half = step / 2.0
    return [float(max(0.0, xs.min() - half + 0.5)), float(max(0.0, ys.min() - half + 0.5)),
            float(min(width, xs.max() + half + 0.5)), float(min(height, ys.max() + half + 0.5))]


def _mean(values):
    return round(float(values.mean()), 4) if values.size else None


def sample_tiepoints(result: DenseResult, final: Lattice, max_points: int, min_confidence=CONFIDENT):
    """Tie points from the finest level where confidence is high, spread over the scene: in each cell of a
    coarse grid, the most confident lattice point. Their displacement is the measurement itself (not the
    fitted field); inlier = the robust fit kept it and it agrees with the final field."""
    conf = result.confidence * (result.robust > 0)
    ny, nx = conf.shape
    cells = max(1, int(math.ceil(math.sqrt(ny * nx / max(max_points, 1)))))
    xs, ys = final.coords()
    picked = []
    for j0 in range(0, ny, cells):
        for i0 in range(0, nx, cells):
            block = result.confidence[j0:j0 + cells, i0:i0 + cells]
            j, i = np.unravel_index(int(block.argmax()), block.shape)
            if block[j, i] >= min_confidence:
                picked.append((j0 + j, i0 + i))
    if not picked:
        return {"eo_px": np.zeros((0, 2)), "disp": np.zeros((0, 2)), "score": np.zeros(0), "inlier": np.zeros(0, bool)}
    jj, ii = np.array(picked).T
    disp = result.measured[jj, ii]
    tolerance = max(1.5, TUKEY_C * result.sigma) if np.isfinite(result.sigma) else 1.5
    agrees = np.hypot(*(disp - final.values[jj, ii]).T) <= tolerance
    return {"eo_px": np.c_[xs[ii], ys[jj]], "disp": disp, "score": result.confidence[jj, ii],
            "inlier": (result.robust[jj, ii] > 0.5) & agrees & (conf[jj, ii] > 0)}


def align(eo: np.ndarray, sar: np.ndarray, describe: Descriptor, radius_px: float, max_points: int = 1500,
          progress: Optional[Callable[[float, str], None]] = None) -> Alignment:
    """The whole matching core on working-grid images (uint8, 0 = nodata). Never guesses: when the global
    peak is unreliable, or the result is not measurably better than the input, the answer is zero shift."""
    h, w = eo.shape
    report = progress or (lambda fraction, message: None)
    scale = pyramid_factors(w, h, GLOBAL_MAX_SIDE)
    report(0.0, f"Global search over +-{radius_px:.0f} px")
    start = global_init(downsample(eo, scale), downsample(sar, scale), describe, (radius_px / scale,) * 2)
    info = {"global": {"z": round(start.z, 2), "quadrants": start.quadrants, "ncc": round(start.ncc, 4),
                       "ratio": round(start.ratio, 2), "rotation_deg": start.rotation_deg, "scale": start.scale,
                       "reliable": start.reliable,
                       "shift_px": [round(float(v) * scale, 2) for v in start.affine[:, 2]], "level_scale": scale}}
    empty = Lattice.over(w, h, STEP)
    if not start.reliable:
        return _not_aligned(empty, info, "No reliable match between EO and SAR in the global search (the best "
                            f"correlation peak is {start.z:.1f} deviations above the background, confirmed by "
                            f"{start.quadrants} of 4 quadrants, {start.ratio:.2f} times the runner-up). Check that both "
                            "rasters show the same area, or widen --search-radius-m.")
    result = refine(eo, sar, describe, start, scale, lambda f, m: report(0.1 + 0.75 * f, m))
    info["levels"] = [level.__dict__ for level in result.levels]
    report(0.85, "Self-check against the input and the global model")
    final, keep, stats, gain, t = self_check(eo, sar, describe, result)
    info["self_check"] = stats
    if gain <= 0 or t < MIN_IMPROVEMENT_T:
        return _not_aligned(empty, info, "The alignment found is not measurably better than the input georeference "
                            f"(descriptor similarity {stats['similarity_input']} before, {stats['similarity_result']} "
                            f"after; t = {t:.1f}).")
    support = result.confidence * result.robust
    smoothed = cv2.GaussianBlur(support, (0, 0), 1.5) / max(cv2.GaussianBlur(np.ones_like(support), (0, 0), 1.5).max(), 1e-9)
    confidence = np.clip(np.sqrt(np.clip(smoothed, 0, None)) * (0.25 + 0.75 * keep), 0.0, 1.0)
    tiepoints = sample_tiepoints(result, final, max_points)
    partly = stats["regions_fallen_back"] > 0
    verdict = "aligned_partly" if partly else "aligned"
    message = (f"Aligned; {stats['regions_fallen_back']} of {stats['regions']} regions follow the global model "
               f"({stats['regions_worse']} got worse with the local field, {stats['regions_unsupported']} had no "
               "confident matches nearby; where: layer fallback_regions of tiepoints.gpkg, also in report.json, and "
               "low values in confidence.tif)." if partly else "Aligned.")
    return Alignment(final, Lattice(final.x0, final.y0, final.step, confidence[..., None]), verdict, message, tiepoints,
                     info)


def _not_aligned(empty: Lattice, info: dict, message: str) -> Alignment:
    none = {"eo_px": np.zeros((0, 2)), "disp": np.zeros((0, 2)), "score": np.zeros(0), "inlier": np.zeros(0, bool)}
    confidence = Lattice(empty.x0, empty.y0, empty.step, np.zeros((*empty.shape, 1)))
    return Alignment(empty, confidence, "not_aligned", message + " The outputs keep the input georeference.", none, info)
