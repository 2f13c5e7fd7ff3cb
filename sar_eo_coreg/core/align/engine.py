"""The matching core on the working grid: global search -> coarse to fine -> self-check -> tie points."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..features import Descriptor, downsample
from ..lattice import Lattice
from .coarse_to_fine import STEP, pyramid_factors, refine
from .confidence import evidence_of, probability, table_id, uncertainty_px
from .global_search import GLOBAL_MAX_SIDE, global_init
from .sampling import sample_tiepoints
from .self_check import MIN_IMPROVEMENT_T, self_check

SMALL_SCENE_PX = 512  # below this a side, a scene that does not align is told that a larger crop would help


@dataclass
class Alignment:
    """The engine's answer on the working grid."""

    field: Lattice  # displacement, working pixels (zero when not aligned)
    confidence: Lattice  # (ny, nx, 1) in [0, 1]
    verdict: str  # aligned | aligned_partly | not_aligned
    message: str
    tiepoints: dict  # eo_px, disp, score, inlier, uncertainty (working pixels)
    log: dict  # what the engine did (global search, levels, self-check): report.json's `engine`
    local_weight: Optional[Lattice] = None  # (ny, nx, 1): 1 = local field, 0 = the self-check kept the global model

    def scaled(self, factor: float) -> Alignment:
        """The same answer on a grid `factor` times finer (the EO grid, from the working grid)."""
        if factor == 1:
            return self
        tp = dict(self.tiepoints)
        tp["eo_px"] = (tp["eo_px"] + 0.5) * factor - 0.5
        tp["disp"], tp["uncertainty"] = tp["disp"] * factor, tp["uncertainty"] * factor
        weight = None if self.local_weight is None else self.local_weight.scaled(factor, displacement=False)
        return Alignment(self.field.scaled(factor), self.confidence.scaled(factor, displacement=False), self.verdict,
                         self.message, tp, self.log, weight)



def align(eo: np.ndarray, sar: np.ndarray, describe: Descriptor, radius_px: float, max_points: int = 1500,
          progress: Optional[Callable[[float, str], None]] = None, eo_per_working: float = 1.0) -> Alignment:
    """The whole matching core on working-grid images (uint8, 0 = nodata). Never guesses: when the global
    peak is unreliable, or the result is not measurably better than the input, the answer is zero shift.
    `eo_per_working`: EO pixels per working pixel, for the confidence's 3 EO px."""
    h, w = eo.shape
    step = progress or (lambda fraction, message: None)
    scale = pyramid_factors(w, h, GLOBAL_MAX_SIDE)
    step(0.0, f"Global search over +-{radius_px:.0f} px")
    start = global_init(downsample(eo, scale), downsample(sar, scale), describe, (radius_px / scale,) * 2)
    info = {"global": {"z": round(start.z, 2), "quadrants": start.quadrants, "ncc": round(start.ncc, 4),
                       "ratio": round(start.ratio, 2), "rotation_deg": start.rotation_deg, "scale": start.scale,
                       "reliable": start.reliable,
                       "blocks_agreeing": start.blocks, "model_from": start.source,
                       "shift_px": [round(float(v) * scale, 2) for v in _at_centre(start.affine, w / scale, h / scale)],
                       "level_scale": scale}}
    empty = Lattice.over(w, h, STEP)
    if not start.reliable:
        small = (f" The scene is small ({w} x {h} px at the working resolution): a larger crop (512 px or more a "
                 "side) gives the matcher more structure to go on." if max(w, h) < SMALL_SCENE_PX else "")
        return _not_aligned(empty, info, "No reliable match between EO and SAR in the global search (the best "
                            f"correlation peak is {start.z:.1f} deviations above the background, confirmed by "
                            f"{start.quadrants} of 4 quadrants, {start.ratio:.2f} times the runner-up). Check that both "
                            "rasters show the same area" + (", or widen the search radius." if radius_px < 0.5 * max(w, h)
                                                            else " (the search already spans the scene).") + small)
    result = refine(eo, sar, describe, start, scale, lambda f, m: step(0.1 + 0.75 * f, m))
    info["levels"] = [level.__dict__ for level in result.levels]
    step(0.85, "Self-check against the input and the global model")
    final, keep, stats, gain, t = self_check(eo, sar, describe, result)
    info["self_check"] = stats
    if stats["similarity_input"] is None:
        return _not_aligned(empty, info, "The alignment found could not be checked: no window has enough valid "
                            "pixels in both rasters (the common area is too small or mostly nodata).")
    if gain <= 0 or t < MIN_IMPROVEMENT_T:
        return _not_aligned(empty, info, "The alignment found is not measurably better than the input georeference "
                            f"(descriptor similarity {stats['similarity_input']} before, {stats['similarity_result']} "
                            f"after; t = {t:.1f}).")
    evidence = evidence_of(result.confidence, result.robust, keep)
    confidence = probability(evidence, eo_per_working)  # calibrated: P(within 3 EO px)
    info["confidence_calibration"] = table_id()
    tiepoints = sample_tiepoints(result.measured, result.confidence, result.robust, result.sigma, final, max_points)
    at_points = Lattice(final.x0, final.y0, final.step, evidence[..., None]).sample(*tiepoints["eo_px"].T)[..., 0]
    tiepoints["uncertainty"] = uncertainty_px(at_points)  # working px (the bench's scenes: EO px = working px)
    partly = stats["regions_fallen_back"] > 0
    verdict = "aligned_partly" if partly else "aligned"
    message = (f"Aligned; {stats['regions_fallen_back']} of {stats['regions']} regions follow the global model, "
               "where the local field measurably matched worse (where: layer fallback_regions of tiepoints.gpkg, also "
               "in report.json, and low values in confidence.tif)." if partly else "Aligned.")
    return Alignment(final, Lattice(final.x0, final.y0, final.step, confidence[..., None]), verdict, message, tiepoints,
                     info, Lattice(final.x0, final.y0, final.step, keep[..., None]))


def _not_aligned(empty: Lattice, info: dict, message: str) -> Alignment:
    none = {"eo_px": np.zeros((0, 2)), "disp": np.zeros((0, 2)), "score": np.zeros(0), "inlier": np.zeros(0, bool),
            "uncertainty": np.zeros(0)}
    confidence = Lattice(empty.x0, empty.y0, empty.step, np.zeros((*empty.shape, 1)))
    return Alignment(empty, confidence, "not_aligned", message + " The outputs keep the input georeference.", none, info)


def _at_centre(affine: np.ndarray, width: float, height: float) -> np.ndarray:
    """The displacement an affine model (2, 3) gives at the centre of a (width x height) level."""
    return affine[:, :2] @ np.array([(width - 1) / 2.0, (height - 1) / 2.0]) + affine[:, 2]
