"""One level of the dense field: EO windows at lattice points matched against the warped SAR over a small radius.

The cost volume comes from block sums of per-shift products, in the descriptors' principal directions; forward
and backward in one pass. Each lattice point gets a displacement and a confidence (peak height, margin over the
runner-up, forward-backward agreement).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..features import in_parallel
from ..lattice import Lattice
from ..threads import engine_threads
from .peaks import surface_peaks

MIN_VALID = 0.6  # share of valid pixels a window needs in both images
CONFIDENT = 0.05  # a measurement at least this confident (and kept by the robust fit) counts as support


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


def local_zero_mean(desc: np.ndarray, half: int, valid: np.ndarray, pad: int = 0) -> np.ndarray:
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


def principal_basis(e: np.ndarray, s: np.ndarray, keep: float = MATCH_ENERGY) -> np.ndarray:
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


def project(desc: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """(C, H, W) descriptors in the basis (C, m) -> (m, H, W)."""
    c, h, w = desc.shape
    return (basis.T @ desc.reshape(c, -1)).reshape(-1, h, w)


def dot(e: np.ndarray, s: np.ndarray, out: np.ndarray = None) -> np.ndarray:
    """Per-pixel dot product over channels of (C, H, W) float32 maps, accumulated in place (memory traffic, not
    arithmetic, is the cost), in bands of rows on all cores."""
    out = np.empty(e.shape[1:], np.float32) if out is None else out
    rows = out.shape[0]
    n = engine_threads()  # row bands of the per-pixel dot product
    bands = [slice(k * rows // n, (k + 1) * rows // n) for k in range(n)]

    def band(b):
        cv2.multiply(e[0][b], s[0][b], dst=out[b])
        for c in range(1, e.shape[0]):
            cv2.accumulateProduct(e[c][b], s[c][b], out[b])

    in_parallel(band, bands)
    return out


def lattice_sums(image: np.ndarray, x0: int, y0: int, nx: int, ny: int, step: int, half: int) -> np.ndarray:
    """Sums of `image` (H, W) float32 over the (2 half + 1)^2 windows centred at (x0 + step i, y0 + step j),
    i < nx, j < ny, all inside the image. A window is 2 half / step blocks of step x step pixels a side plus one
    row and one column, so one pass of block sums serves every window."""
    m = 2 * half // step
    assert m * step == 2 * half, "windows must be a whole number of lattice steps"
    blocks = image[y0 - half:y0 - half + step * (ny + m - 1)].reshape(ny + m - 1, step, -1).sum(1)
    rows = sum(blocks[k:k + ny] for k in range(m)) + image[y0 + half:y0 + half + step * ny:step]
    blocks = rows[:, x0 - half:x0 - half + step * (nx + m - 1)].reshape(ny, nx + m - 1, step).sum(2)
    return (sum(blocks[:, k:k + nx] for k in range(m)) + rows[:, x0 + half:x0 + half + step * nx:step]).astype(np.float64)


def match_lattice(eo_desc, sar_desc, eo_valid, sar_valid, lattice: Lattice, radius: int, half: int) -> Measurements:
    """Match EO windows at the lattice points against the (already warped) SAR within +-radius px.

    eo_desc, sar_desc: (C, H, W) on the same level grid; *_valid: (H, W) bool. Returns the update (the
    displacement relative to the warped SAR) with its evidence. Per shift d, one product image e(q) s(q + d)
    serves both directions: its window sum at p is the forward score (EO at p, SAR at p + d), at p - d the
    backward one (SAR at p, EO at p - d). Everything is zero-padded so windows near the border are summed over
    their part inside the image."""
    r, pad = radius, half + radius
    e = local_zero_mean(eo_desc, half, eo_valid, pad=pad)
    s = local_zero_mean(sar_desc, half, sar_valid, pad=pad + r)
    basis = principal_basis(e, s)
    e, s = project(e, basis), project(s, basis)
    _, hp, wp = e.shape  # the padded level
    xs, ys = lattice.coords()
    x0, y0, step = int(round(xs[0])) + pad, int(round(ys[0])) + pad, int(lattice.step)  # padded coordinates
    nx, ny = len(xs), len(ys)
    cx, cy = np.meshgrid(x0 + step * np.arange(nx), y0 + step * np.arange(ny))
    e_energy = _box_sums(dot(e, e), half)
    s_energy = _box_sums(dot(s[:, r:r + hp, r:r + wp], s[:, r:r + hp, r:r + wp]), half)
    area = float((2 * half + 1) ** 2)
    e_ok = _box_sums(np.pad(eo_valid, pad), half) / area >= MIN_VALID
    s_ok = _box_sums(np.pad(sar_valid, pad), half) / area >= MIN_VALID
    size = 2 * r + 1
    forward = np.full((size * size, ny, nx), -1.0)
    backward = np.full_like(forward, -1.0)
    en_e, en_s = e_energy[cy, cx], s_energy[cy, cx]
    ok_e, ok_s = e_ok[cy, cx], s_ok[cy, cx]
    prod = np.empty((hp, wp), np.float32)
    for k in range(size * size):
        ddy, ddx = divmod(k, size)
        ddy, ddx = ddy - r, ddx - r
        dot(e, s[:, r + ddy:r + ddy + hp, r + ddx:r + ddx + wp], prod)
        fy, fx, by, bx = cy + ddy, cx + ddx, cy - ddy, cx - ddx
        den = np.sqrt(np.maximum(en_e * s_energy[fy, fx], 1e-18))
        num = lattice_sums(prod, x0, y0, nx, ny, step, half)
        forward[k] = np.where(ok_e & s_ok[fy, fx], num / den, -1.0)
        den_b = np.sqrt(np.maximum(e_energy[by, bx] * en_s, 1e-18))
        num_b = lattice_sums(prod, x0 - ddx, y0 - ddy, nx, ny, step, half)
        backward[k] = np.where(ok_s & e_ok[by, bx], num_b / den_b, -1.0)
    upd, confidence = peak_evidence(forward.reshape(size, size, ny, nx), backward.reshape(size, size, ny, nx),
                                    radius, ok_e)
    return Measurements(upd, confidence, basis)


def peak_evidence(forward: np.ndarray, backward: np.ndarray, radius: int, usable: np.ndarray):
    """Forward and backward score surfaces (S, S, ...) over shifts -> (update (..., 2), confidence (...)): peak
    height, margin over the runner-up, forward-backward agreement; 0 where unusable or the peak lies on the
    search area's border."""
    upd, peak, second, inner = surface_peaks(forward, radius)
    upd_b, _, _, inner_b = surface_peaks(backward, radius)
    fb = np.hypot(*np.moveaxis(upd - upd_b, -1, 0))
    distinct = np.clip((peak - second) / np.maximum(1.0 - second, 1e-3), 0.0, 1.0)
    confidence = np.clip(peak, 0.0, 1.0) * np.sqrt(distinct) / (1.0 + fb**2)
    return upd, np.where(usable & inner & inner_b & (peak > 0.0), confidence, 0.0)
