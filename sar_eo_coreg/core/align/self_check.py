"""The self-check, "do no harm": per region, is the local field better than the global (affine) model? Overall,
is the result better than the input georeference?"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import cv2
import numpy as np

from ..features import in_parallel
from ..lattice import Lattice
from .coarse_to_fine import HALF, DenseResult, sampling_maps
from .field_fit import weighted_affine
from .lattice_match import CONFIDENT, MIN_VALID, dot, lattice_sums, local_zero_mean, project

REGION_CELLS = 6  # self-check regions: this many lattice cells a side
REGION_WORSE = 0.02  # a region whose similarity drops this much below the global model's ...
REGION_WORSE_T = 2.0  # ... by this many standard errors falls back to the global model
MIN_REGION_POINTS = 3  # confident measurements below which a region (and its 3x3 neighbourhood, 3x) has thin evidence
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
        self.e = local_zero_mean(eo_desc, half, eo_valid, pad=half)
        self.en_e = self._at(dot(self.e, self.e))
        self.ok_e = self._at(np.pad(eo_valid, half)) / self.area >= MIN_VALID

    def _at(self, padded):
        return lattice_sums(np.ascontiguousarray(padded, np.float32), self.x0, self.y0, self.nx, self.ny, self.step, self.half)

    def __call__(self, sar_desc, sar_valid):
        """(NCC at each lattice point, whether its windows are valid in both)."""
        s = local_zero_mean(sar_desc, self.half, sar_valid, pad=self.half)
        ncc = self._at(dot(self.e, s)) / np.sqrt(np.maximum(self.en_e * self._at(dot(s, s)), 1e-18))
        return ncc, self.ok_e & (self._at(np.pad(sar_valid, self.half)) / self.area >= MIN_VALID)


def warp_descriptors(desc: np.ndarray, valid: np.ndarray, disp: np.ndarray):
    """Descriptor maps (C, H, W) and their validity resampled at p + disp(p)."""
    map_x, map_y = sampling_maps(disp)
    out = np.stack([cv2.remap(np.ascontiguousarray(c, np.float32), map_x, map_y, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE) for c in desc])
    inside = cv2.remap(valid.astype(np.uint8), map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT,
                       borderValue=0) > 0
    return out, inside



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
        coef = weighted_affine(points, result.measured.reshape(-1, 2), np.maximum(weight, 1e-12))
    else:
        coef = np.zeros((3, 2))
    global_values = (np.c_[points, np.ones(len(points))] @ coef).reshape(lattice.values.shape)
    global_field = Lattice(lattice.x0, lattice.y0, lattice.step, global_values)
    sar_desc = project(describe(sar, "sar"), result.basis)
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
    worse_regions = thin = 0
    fallback = []  # where the global model was kept: only where the local field measurably did worse
    for r in range(ry * rx):
        inside = region == r
        v = inside & valid
        drop, t = _paired_t(sims["local"][0][v], sims["global"][0][v]) if v.sum() >= 4 else (0.0, 0.0)
        if drop < -REGION_WORSE and t < -REGION_WORSE_T:
            keep[inside] = 0.0
            worse_regions += 1
            fallback.append({"reason": "worse", "working_px": _region_box(gx[inside], gy[inside], lattice.step, w, h)})
        elif counts.flat[r] < MIN_REGION_POINTS and around.flat[r] < MIN_REGION_POINTS * 3:
            thin += 1  # little evidence: the field there relaxed toward the coarser estimate (low confidence)
    blend = cv2.GaussianBlur(keep, (0, 0), 1.0) if min(lattice.shape) > 2 else keep
    values = blend[..., None] * lattice.values + (1.0 - blend[..., None]) * global_values
    final = Lattice(lattice.x0, lattice.y0, lattice.step, values)
    sim_final, valid_final = similarity(final)
    both = valid & valid_final
    gain, t = _paired_t(sim_final[both], sims["input"][0][both])
    stats = {"regions": ry * rx, "regions_fallen_back": worse_regions, "regions_thin_evidence": thin,
             "fallback_regions": fallback,
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

