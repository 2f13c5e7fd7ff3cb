"""Coarse-to-fine matching on a working-grid image pyramid.

Each pass picks candidates on the EO at one pyramid level, cuts chips around them (SAR chips around
the position predicted by the model so far), matches them, rejects outliers and refits the
prediction model. The first pass, at the coarsest level, matches a lattice of large templates over the
full search radius; the second, at the same level, many mid-size templates with a radius that allows
for the local warp; later passes step down the pyramid with small radii, and the last refines at full
resolution within 3 px.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import cv2
import numpy as np
from scipy.spatial import cKDTree

from .candidates import pick_candidates
from .errors import CoregError
from .matchers.base import MARGIN, Matcher, find_peaks
from .robust import reject_outliers
from .tiepoints import TiePoints
from .transforms import Model, auto_transform, fit_model

COARSE_MAX_SIDE = 512
AGGREGATE_NEIGHBOURS = 6
LOCAL_TEMPLATE_FACTOR = 2.0  # the wide-radius local pass uses bigger, more distinctive templates
GLOBAL_AGREEMENT_FRACTION = 0.02  # lattice matches of the global pass agree within this share of the level size
LOCAL_WARP_FRACTION = 0.035  # local warp the first local pass allows for, as a share of the level size


@dataclass(frozen=True)
class Pass:
    scale: int  # level pixels are `scale` working pixels
    half: int  # template half-size, level pixels
    radius: int  # search radius around the prediction, level pixels
    max_points: int


class ZeroModel(Model):
    kind = "zero"

    def predict(self, points):
        return np.zeros((len(points), 2))


def plan_passes(width: int, height: int, radius_px: float, max_points: int, fine_half: int) -> List[Pass]:
    top = 1
    while max(width, height) / top > COARSE_MAX_SIDE:
        top *= 2
    lw, lh = math.ceil(width / top), math.ceil(height / top)
    short = min(lw, lh)
    coarse_radius = min(int(math.ceil(radius_px / top)) + 2, short // 3)
    big_half = max(12, min(short // 2 - coarse_radius - MARGIN - 1, 96))
    local_radius = int(math.ceil(LOCAL_WARP_FRACTION * max(lw, lh))) + 3
    local_half = min(int(fine_half * LOCAL_TEMPLATE_FACTOR), max(12, short // 2 - local_radius - MARGIN - 1))
    passes = [Pass(top, big_half, coarse_radius, 25), Pass(top, local_half, local_radius, max_points // 2)]
    scale = top
    while scale > 1:
        ratio = 4 if scale >= 4 else 2
        scale //= ratio
        passes.append(Pass(scale, fine_half, 2 * ratio + 2, max_points))
    # last, a refinement around the smooth model: a small radius leaves little room for false peaks
    passes.append(Pass(1, fine_half, 3, max_points))
    return passes


def level_image(img: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return img
    h, w = math.ceil(img.shape[0] / scale), math.ceil(img.shape[1] / scale)
    small = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    invalid = cv2.resize((img == 0).astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0
    small = np.maximum(small, 1)
    small[invalid] = 0
    return small


def _to_work(points_level, shape_work, shape_level):
    sy, sx = shape_work[0] / shape_level[0], shape_work[1] / shape_level[1]
    return np.c_[(points_level[:, 0] + 0.5) * sx - 0.5, (points_level[:, 1] + 0.5) * sy - 0.5], (sx, sy)


def _chips(image: np.ndarray, centres: np.ndarray, half: int) -> np.ndarray:
    pad = half + 1
    padded = np.pad(image, pad)
    out = np.zeros((len(centres), 2 * half, 2 * half), np.uint8)
    for i, (x, y) in enumerate(centres):
        x0, y0 = int(x) - half + pad, int(y) - half + pad
        if -2 * half < x0 < padded.shape[1] and -2 * half < y0 < padded.shape[0]:
            part = padded[max(y0, 0):y0 + 2 * half, max(x0, 0):x0 + 2 * half]
            out[i, max(-y0, 0):max(-y0, 0) + part.shape[0], max(-x0, 0):max(-x0, 0) + part.shape[1]] = part
    return out


def run_pass(eo_work, sar_work, model: Model, step: Pass, matcher: Matcher, seed: int):
    """One matching pass. Returns tie points in working pixels, or None when nothing matched."""
    eo = level_image(eo_work, step.scale)
    sar = level_image(sar_work, step.scale)
    shape_w, shape_l = eo_work.shape, eo.shape
    # where the SAR has data at the predicted place: test on a coarse lattice of candidate positions
    sar_valid = _predicted_sar_valid(sar, model, shape_w, shape_l)
    points, _ = pick_candidates(eo, sar_valid, step.half, step.max_points)
    if len(points) < 3:
        return None
    points_work, (sx, sy) = _to_work(points.astype(np.float64), shape_w, shape_l)
    predicted = model.predict(points_work) / np.array([sx, sy])
    target = np.rint(points + predicted).astype(int)
    surfaces, usable = matcher.surfaces(
        _chips(eo, points, step.half + MARGIN), _chips(sar, target, step.half + step.radius + MARGIN),
        step.half, step.radius,
    )
    result = find_peaks(surfaces, step.radius, usable, guide=aggregate_surfaces(points, surfaces, usable))
    disp_level = target + result.shift - points
    ok = result.valid
    if ok.sum() < 3:
        return None
    pts, disp = points[ok].astype(np.float64), disp_level[ok]
    global_threshold = max(3.0, 0.06 * max(shape_l))
    inlier, _ = reject_outliers(pts, disp, global_threshold, min_threshold=1.0 if step.scale > 1 else 1.5, seed=seed)
    return TiePoints(_to_work(pts, shape_w, shape_l)[0], disp * np.array([sx, sy]), result.score[ok], inlier)


def aggregate_surfaces(points, surfaces, usable, neighbours=AGGREGATE_NEIGHBOURS):
    """Each surface plus the mean of its nearest neighbours' surfaces. All surfaces are relative to the
    predicted positions, and the residual displacement is smooth, so true peaks add up and false ones
    average out."""
    ok = np.flatnonzero(usable)
    if len(ok) <= neighbours:
        return surfaces
    _, nearest = cKDTree(points[ok]).query(points, k=neighbours + 1)
    neighbour_mean = surfaces[ok[nearest[:, 1:]]].mean(axis=1)
    return surfaces + neighbour_mean


def global_pass(eo_work, sar_work, step: Pass, matcher: Matcher):
    """Big templates on a lattice (one central template on small scenes) searched over the full radius;
    the consensus translation wins. Returns tie points in working pixels, or None."""
    eo = level_image(eo_work, step.scale)
    sar = level_image(sar_work, step.scale)
    h, w = eo.shape
    lo, hi_x, hi_y = step.half + MARGIN, w - step.half - MARGIN, h - step.half - MARGIN
    xs = np.unique(np.linspace(lo, hi_x, 3).astype(int)) if hi_x - lo > step.half else np.array([w // 2])
    ys = np.unique(np.linspace(lo, hi_y, 3).astype(int)) if hi_y - lo > step.half else np.array([h // 2])
    points = np.array([(x, y) for y in ys for x in xs])
    eo_chips = _chips(eo, points, step.half + MARGIN)
    keep = (eo_chips[:, MARGIN:-MARGIN, MARGIN:-MARGIN] > 0).mean(axis=(1, 2)) > 0.999
    if not keep.any():
        return None
    points, eo_chips = points[keep], eo_chips[keep]
    result = matcher.match(eo_chips, _chips(sar, points, step.half + step.radius + MARGIN), step.half, step.radius)
    if not result.valid.any():
        return None
    disp = result.shift
    # consensus: the valid match whose shift is shared by the most score; the local warp spreads the
    # true shifts of the lattice, so they agree within a share of the level size
    tolerance = max(3.0, GLOBAL_AGREEMENT_FRACTION * max(h, w))
    support = np.array([(result.score * result.valid * (np.hypot(*(disp - d).T) <= tolerance)).sum() for d in disp])
    support[~result.valid] = -1
    best = disp[int(np.argmax(support))]
    inlier = result.valid & (np.hypot(*(disp - best).T) <= tolerance)
    shape_w, shape_l = eo_work.shape, eo.shape
    work_pts, (sx, sy) = _to_work(points.astype(np.float64), shape_w, shape_l)
    return TiePoints(work_pts, disp * np.array([sx, sy]), result.score, inlier)


def _predicted_sar_valid(sar_level, model, shape_w, shape_l):
    h, w = sar_level.shape
    step = 8
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    lattice = np.c_[xs.ravel(), ys.ravel()].astype(np.float64)
    work, (sx, sy) = _to_work(lattice, shape_w, shape_l)
    target = np.rint(lattice + model.predict(work) / np.array([sx, sy])).astype(int)
    inside = (target[:, 0] >= 0) & (target[:, 0] < w) & (target[:, 1] >= 0) & (target[:, 1] < h)
    ok = np.zeros(len(target), bool)
    ok[inside] = sar_level[target[inside, 1], target[inside, 0]] > 0
    coarse = ok.reshape(ys.shape).astype(np.uint8)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_NEAREST) > 0


def match_coarse_to_fine(eo_work, sar_work, matcher: Matcher, passes: List[Pass], seed: int, report=None):
    """All passes; returns the last pass's tie points (working pixels) and a log of each pass."""
    model: Model = ZeroModel()
    extent = (0.0, 0.0, float(eo_work.shape[1] - 1), float(eo_work.shape[0] - 1))
    last: Optional[TiePoints] = None
    log = []
    for i, step in enumerate(passes):
        if report is not None:
            report(i / len(passes), f"Matching: level 1/{step.scale}, pass {i + 1} of {len(passes)}")
        tp = global_pass(eo_work, sar_work, step, matcher) if i == 0 else run_pass(
            eo_work, sar_work, model, step, matcher, seed)
        n_in = 0 if tp is None else int(tp.inlier.sum())
        log.append({"scale": step.scale, "template": 2 * step.half, "radius": step.radius,
                    "matched": 0 if tp is None else len(tp), "inliers": n_in})
        if i == 0:
            if n_in == 0 or (n_in < 2 and len(tp) >= 3):  # no two lattice matches agree
                raise CoregError(
                    "No consistent match between EO and SAR in the coarse pass (the large templates disagree). "
                    "Check that the rasters show the same area; try a larger --search-radius-m."
                )
            used = tp.inlier
            model = (fit_model("affine", tp.eo_px[used], tp.disp[used]) if n_in >= 5
                     else _Translation(np.median(tp.disp[used], axis=0)))
            continue
        if n_in < 3:
            continue
        used = tp.inlier
        model = fit_model(auto_transform(n_in), tp.eo_px[used], tp.disp[used], extent)
        last = tp
    if last is None:
        raise CoregError("Too few matches between EO and SAR. Check the overlap, or try a larger --search-radius-m.")
    return last, model, log


class _Translation(Model):
    kind = "translation"

    def __init__(self, shift):
        self.shift = np.asarray(shift, np.float64)

    def predict(self, points):
        return np.tile(self.shift, (len(points), 1))
