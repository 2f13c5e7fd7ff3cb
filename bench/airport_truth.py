"""Truth points for the real airport pair that no matcher made: centroids of grass islands.

Between the airport's taxiways lie closed grass islands, tens of metres across. Both sensors delineate them
the same way: grass is darker than the pavement in the pan EO and brighter than it in the SAR (the
pavement is a dark, smooth radar surface), and all of it is flat (no layover). Each image is smoothed and
thresholded (Otsu; the SAR in log amplitude), and closed regions that touch no image or footprint border
are kept. An EO region pairs with the SAR region whose centroid (mapped into the EO pixel frame through the
nominal georeferences) lies within PAIR_RADIUS of the EO centroid plus the rough shift, with an area
within 25 %. A centroid averages thousands of boundary pixels, so speckle barely moves it, and a uniform
difference in where the two thresholds fall cancels on a closed shape.

Uncertainty: each point is re-made over 27 variants (threshold x0.9, x1, x1.1 in each image; SAR smoothing
sigma 3, 4, 5 px); the reported value is the median and the uncertainty the largest deviation from it.
Points seen in fewer than half of the variants are dropped.

Coverage: the islands lie on the airfield, the right half of the scene; the left half (terminal buildings,
parking, roads) has no closed region that the two sensors delineate alike, so it has no truth points.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import cv2
import numpy as np
import rasterio

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sar_eo_coreg.core.geometry import sar_pixel_to_eo_pixel  # noqa: E402
from sar_eo_coreg.core.raster import open_info  # noqa: E402
from sar_eo_coreg.evaluation.metrics import sample_offsets  # noqa: E402

ROUGH_SHIFT = np.array([-73.0, -14.0])  # only to pair regions; not part of the truth
PAIR_RADIUS = 15.0  # EO pixels
MIN_AREA = 400  # EO pixels
EO_SIGMA = 2.0


def _regions(image, valid, sigma, grass_is_dark, scale, area_per_pixel):
    """Centroids and areas (EO pixel units) of closed grass regions."""
    smooth = cv2.GaussianBlur(image, (0, 0), sigma)
    lo, hi = np.percentile(smooth[valid], [1, 99])
    u8 = np.clip((smooth - lo) / (hi - lo) * 255, 0, 255).astype(np.uint8)
    otsu, _ = cv2.threshold(u8[valid][:, None], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    grass = ((u8 < otsu * scale) if grass_is_dark else (u8 > otsu * scale)) & valid
    grass = cv2.morphologyEx(grass.astype(np.uint8), cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(grass, connectivity=4)
    border = cv2.dilate((~valid).astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    border[0, :] = border[-1, :] = border[:, 0] = border[:, -1] = True
    touching = np.unique(labels[border])
    keep = [i for i in range(1, count) if i not in touching and stats[i, 4] * area_per_pixel >= MIN_AREA]
    return centroids[keep], stats[keep, 4] * area_per_pixel


def truth_points(eo_path, sar_path):
    """(N, 5) rows: EO col, EO row, dx, dy (SAR minus EO, EO pixels), uncertainty px."""
    eo_info, sar_info = open_info(eo_path, "EO"), open_info(sar_path, "SAR")
    with rasterio.open(eo_path) as src:
        eo = src.read(1).astype(np.float32)
    with rasterio.open(sar_path) as src:
        sar = src.read(1).astype(np.float32)
    eo_valid = eo > 0
    # the SAR has true zeros on dark pavement: its footprint is the closed support, not sar > 0
    sar_valid = cv2.morphologyEx((sar > 0).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((25, 25), np.uint8)) > 0
    log_sar = np.log1p(np.clip(sar, 0, np.percentile(sar[sar > 0], 95)))
    area_ratio = (abs(sar_info.transform.a) / abs(eo_info.transform.a)) * (abs(sar_info.transform.e) / abs(eo_info.transform.e))

    def pairs(eo_scale, sar_scale, sar_sigma):
        eo_c, eo_a = _regions(eo, eo_valid, EO_SIGMA, True, eo_scale, 1.0)
        sar_c, sar_a = _regions(log_sar, sar_valid, sar_sigma, False, sar_scale, area_ratio)
        if len(eo_c) == 0 or len(sar_c) == 0:
            return []
        in_eo = np.array(sar_pixel_to_eo_pixel(eo_info, sar_info, sar_c[:, 0], sar_c[:, 1])).T
        found = []
        for c, a in zip(eo_c, eo_a):
            distance = np.hypot(*(in_eo - ROUGH_SHIFT - c).T)
            j = int(np.argmin(distance))
            if distance[j] < PAIR_RADIUS and 0.8 < sar_a[j] / a < 1.25:
                found.append(np.r_[c, in_eo[j] - c])
        return found

    base = pairs(1.0, 1.0, 4.0)
    variants = [pairs(*v) for v in itertools.product((0.9, 1.0, 1.1), (0.9, 1.0, 1.1), (3.0, 4.0, 5.0))]
    rows = []
    for point in base:
        seen = np.array([p for found in variants for p in found if np.hypot(*(p[:2] - point[:2])) < 6])
        if len(seen) < len(variants) / 2:
            continue
        d = np.median(seen[:, 2:], axis=0)
        rows.append([point[0], point[1], d[0], d[1], float(np.abs(seen[:, 2:] - d).max())])
    return np.array(rows).reshape(-1, 5)


def score(offsets_path, truth) -> dict:
    """The engine's offsets at the truth points: per-point error and the largest."""
    error = np.hypot(*(sample_offsets(offsets_path, truth[:, :2]) - truth[:, 2:4]).T)
    return {"points": len(truth), "error_px": [round(float(e), 2) for e in error],
            "max_error_px": round(float(np.nanmax(error)), 2), "within_3px": int(np.sum(error <= 3.0))}
