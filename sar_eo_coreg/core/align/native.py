"""Refinement at the pair's own pixel, for scenes larger than the working grid.

The field was matched on a working grid `f` times coarser than the EO grid (at most 2048 px a side), so its
error is a fraction of a working pixel: several EO pixels. Here points of the final field are matched again on
the refinement grid (the EO grid at the coarser of the two pixel sizes): a 33-px EO window against the SAR
resampled through the field, over a few pixels. Chips are read strip by strip (one row of points at a time), so
memory does not grow with the scene. The updates are fitted smoothly with the working field as the prior: where
the refinement finds no evidence the field stays as it was.

Windows are zero-normalised per window (ZNCC over all descriptor channels) and correlated over all shifts at
once by FFT, forward (the EO window in the SAR) and backward (the SAR window in the EO), and scored as the
lattice matcher scores its levels (`peak_evidence`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import scipy.fft

from ..features import Descriptor
from ..lattice import Lattice
from ..raster import Grid
from ..threads import engine_threads
from .coarse_to_fine import resample
from .confidence import evidence_of, probability, uncertainty_px
from .engine import Alignment
from .field_fit import smooth_fit
from .lattice_match import CONFIDENT, MIN_VALID, peak_evidence, principal_basis, project
from .sampling import sample_tiepoints

MIN_FACTOR = 4  # refine where a working pixel is at least this many refinement pixels (at 2 the working field is
# already about as precise as single windows at the fine pixel: measured 0.59 -> 0.69 px on a pair with exact truth)
STRIDE = 2  # a refinement point every STRIDE lattice points of the final field, each way
RADIUS_WORKING_PX = 1.5  # search radius: this many working pixels ...
RADIUS_BOUNDS = (4, 8)  # ... within these bounds, refinement pixels
WINDOW_HALF = 16  # window half-size, refinement pixels (33 px, as the lattice matcher; 49 px: +0.1 px median, +2.6 s at 8192²)
BAND_PX = 512  # rows of points read and matched together, refinement pixels


@dataclass
class NativeSource:
    """What the refinement reads: both rasters as the matchers see them on windows of the refinement grid."""

    grid: Grid  # the refinement grid: the EO grid, decimated to the pair's own resolution
    eo_per_pixel: int  # EO pixels per refinement pixel (1 unless the SAR is much coarser than the EO)
    read_eo: Callable[[Grid], np.ndarray]  # uint8 on a window grid, 0 = nodata
    sar_under: Callable  # (qx, qy) grid positions -> (uint8 image, map_x, map_y): DisplaySource.under


def search_radius(working_per_pixel: float) -> int:
    """Refinement search radius (px) for a working grid `working_per_pixel` refinement pixels a pixel."""
    return int(np.clip(math.ceil(RADIUS_WORKING_PX * working_per_pixel), *RADIUS_BOUNDS))


def refine_at_pixel(alignment: Alignment, source: NativeSource, describe: Descriptor, working_factor: int, max_points: int,
                    progress: Optional[Callable[[float, str], None]] = None) -> Alignment:
    """The alignment (on the EO grid, `align(...).scaled(working_factor)`) refined on `source.grid`. Returns a
    new Alignment: field = the working field plus the refinement's smooth correction; confidence = the larger of
    the working estimate and the refinement's own (both P(within 3 EO px)); tie points from the refinement."""
    clock = time.perf_counter()
    r = source.eo_per_pixel
    working = alignment.scaled(1.0 / r)  # refinement pixels from here on; scaled back at the end
    field = working.field
    radius = search_radius(working_factor / r)
    lattice = _points_lattice(field, source.grid, STRIDE)
    xs, ys = lattice.coords()
    gx, gy = np.meshgrid(xs, ys)
    prior = field.sample(gx, gy)
    update, confidence = np.zeros_like(prior), np.zeros(prior.shape[:2])
    band = max(1, BAND_PX // int(lattice.step))
    for j in range(0, len(ys), band):
        if progress is not None:
            progress(j / len(ys), f"Refining at the native pixel ({source.grid.width}x{source.grid.height} px)")
        update[j:j + band], confidence[j:j + band] = _match_band(source, describe, field, xs, ys[j:j + band], radius)
    kept = working.local_weight.sample(gx, gy)[..., 0]
    confidence = np.where(kept >= 0.5, confidence, 0.0)  # where the self-check chose the global model, it stays
    # the correction is fitted, not the total field: the points are sparser than the working field's detail
    correction, robust, sigma = smooth_fit(update, confidence, prior=np.zeros_like(update))
    if not np.isfinite(sigma):
        correction, robust = np.zeros_like(update), np.zeros_like(confidence)
    lattice.values = correction
    fx, fy = np.meshgrid(*field.coords())
    refined = Lattice(field.x0, field.y0, field.step, field.values + lattice.sample(fx, fy))

    evidence = evidence_of(confidence, robust, kept)
    own = Lattice(lattice.x0, lattice.y0, lattice.step, probability(evidence, r)[..., None])
    cx, cy = np.meshgrid(*working.confidence.coords())
    combined = Lattice(working.confidence.x0, working.confidence.y0, working.confidence.step,
                       np.maximum(working.confidence.values, own.sample(cx, cy)))
    tiepoints = sample_tiepoints(prior + update, confidence, robust, sigma,
                                 Lattice(lattice.x0, lattice.y0, lattice.step, prior + correction), max_points)
    if len(tiepoints["eo_px"]) >= len(working.tiepoints["eo_px"]) // 2:
        at = Lattice(lattice.x0, lattice.y0, lattice.step, evidence[..., None]).sample(*tiepoints["eo_px"].T)[..., 0]
        tiepoints["uncertainty"] = uncertainty_px(at)  # the table is for matching at the pair's own pixel
    else:  # too little evidence at the fine pixel: the working grid's tie points stand
        tiepoints = working.tiepoints
    used = confidence * robust >= CONFIDENT
    shift = np.hypot(*np.moveaxis(correction, -1, 0))
    log = dict(alignment.log)
    log["native"] = {"grid": [source.grid.width, source.grid.height], "eo_px_per_px": r,
                        "points": int(confidence.size), "confident": int(used.sum()), "radius_px": radius,
                        "sigma_px": round(float(sigma), 3) if np.isfinite(sigma) else None,
                        "correction_median_px": round(float(np.median(shift[used])) * r, 3) if used.any() else None,
                        "seconds": round(time.perf_counter() - clock, 2)}
    return Alignment(refined, combined, alignment.verdict, alignment.message, tiepoints, log,
                     working.local_weight).scaled(r)


def _points_lattice(field: Lattice, grid: Grid, stride: int) -> Lattice:
    """Every `stride`-th lattice point of the field, on whole pixels of the grid."""
    step = int(round(field.step * stride))
    x0, y0 = int(round(field.x0)), int(round(field.y0))
    nx, ny = (grid.width - 1 - x0) // step + 1, (grid.height - 1 - y0) // step + 1
    return Lattice(float(x0), float(y0), float(step), np.zeros((max(ny, 1), max(nx, 1), 2)))


def _match_band(source: NativeSource, describe: Descriptor, field: Lattice, xs: np.ndarray, ys: np.ndarray,
                radius: int):
    """Updates (k, n, 2) and confidences (k, n) of the points xs (n,) x ys (k,) (whole refinement pixels): one
    read of each raster, one mosaic of chips (a chip: the point's window, search area and descriptor context)."""
    xs, ys = xs.astype(int), ys.astype(int)
    k, n = len(ys), len(xs)
    c = WINDOW_HALF + radius + describe.context_px  # a chip reaches this far from its point
    size = 2 * c + 1
    offsets = np.arange(-c, c + 1)
    col0, row0 = xs.min() - c, ys.min() - c
    width, height = xs.max() + c + 1 - col0, ys.max() + c + 1 - row0
    rows = ((ys - row0)[:, None] + offsets).ravel()  # mosaic row -> band row
    cols = ((xs - col0)[:, None] + offsets).ravel()
    eo = source.read_eo(source.grid.window(col0, row0, width, height))[np.ix_(rows, cols)]
    disp = field.dense_at(cols + col0, rows + row0)
    qx = disp[..., 0] + (cols + col0).astype(np.float32)[None, :]  # where the SAR shows each chip pixel
    qy = disp[..., 1] + (rows + row0).astype(np.float32)[:, None]
    sar = resample(*source.sar_under(qx, qy))
    e, s = describe(eo, "eo") * (eo > 0), describe(sar, "sar") * (sar > 0)
    basis = principal_basis(e, s)  # the few directions that hold the descriptors' energy, as the lattice matcher
    chips = lambda m: m.reshape(m.shape[0], k, size, n, size).transpose(1, 3, 0, 2, 4).reshape(k * n, m.shape[0], size, size)  # noqa: E731,E501
    e, s = chips(project(e, basis)), chips(project(s, basis))
    e_ok, s_ok = chips((eo > 0)[None].astype(np.float32)), chips((sar > 0)[None].astype(np.float32))
    forward = _zncc_surfaces(e, e_ok, s, s_ok, radius)
    backward = _zncc_surfaces(s, s_ok, e, e_ok, radius)[:, ::-1, ::-1]  # the SAR at p against the EO at p - d
    to_surfaces = lambda v: np.ascontiguousarray(v.transpose(1, 2, 0))[:, :, None, :]  # noqa: E731
    upd, confidence = peak_evidence(to_surfaces(forward), to_surfaces(backward), radius, np.ones((1, k * n), bool))
    return upd[0].reshape(k, n, 2), confidence[0].reshape(k, n)


def _zncc_surfaces(window_chips, window_ok, patch_chips, patch_ok, radius: int) -> np.ndarray:
    """Per chip (descriptors (N, m, size, size), zero where invalid; validity (N, 1, size, size)): ZNCC of the
    window at the chip's centre against every placement within +-radius in the other chip, over all channels:
    (N, 2R + 1, 2R + 1), -1 where either side has too few valid pixels."""
    c, w = window_chips.shape[-1] // 2, 2 * WINDOW_HALF + 1
    area = float(w * w)
    inner, reach = slice(c - WINDOW_HALF, c + WINDOW_HALF + 1), slice(c - WINDOW_HALF - radius, c + WINDOW_HALF + radius + 1)
    window, w_ok = window_chips[..., inner, inner], window_ok[..., inner, inner]
    count = w_ok.sum((1, 2, 3))
    centred = (window - window.sum((2, 3), keepdims=True) / np.maximum(count, 1.0)[:, None, None, None]) * w_ok
    energy = (centred**2).sum((1, 2, 3))
    patch, p_ok = patch_chips[..., reach, reach], patch_ok[:, 0, reach, reach]
    variance = _window_sums((patch**2).sum(1), w) - (_window_sums(patch, w) ** 2).sum(1) / area
    fft = scipy.fft.next_fast_len(patch.shape[-1], real=True)
    spectrum = (np.conj(scipy.fft.rfft2(centred, s=(fft, fft), workers=engine_threads())) *
                scipy.fft.rfft2(patch, s=(fft, fft), workers=engine_threads())).sum(1)
    numerator = scipy.fft.irfft2(spectrum, s=(fft, fft), workers=engine_threads())[:, :2 * radius + 1, :2 * radius + 1]
    valid = (_window_sums(p_ok, w) / area >= MIN_VALID) & (count / area >= MIN_VALID)[:, None, None]
    score = numerator / np.sqrt(np.maximum(energy[:, None, None] * variance, 1e-12))
    return np.where(valid, score, -1.0)


def _window_sums(values: np.ndarray, w: int) -> np.ndarray:
    """Sums over every w x w placement in the last two axes (integral images)."""
    table = np.zeros(values.shape[:-2] + (values.shape[-2] + 1, values.shape[-1] + 1), np.float32)
    np.cumsum(values, -1, out=table[..., 1:, 1:])
    np.cumsum(table[..., 1:, 1:], -2, out=table[..., 1:, 1:])
    return table[..., w:, w:] - table[..., :-w, w:] - table[..., w:, :-w] + table[..., :-w, :-w]
