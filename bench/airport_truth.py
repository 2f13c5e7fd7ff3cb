"""Truth points for the real airport pair that no matcher made, from two geometric methods.

1. Grass-island centroids (airfield, right half). Between the taxiways lie closed grass islands, tens of
   metres across. Both sensors delineate them the same way: grass is darker than the pavement in the pan EO
   and brighter than it in the SAR (the pavement is a dark, smooth radar surface), and all of it is flat (no
   layover). Each image is smoothed and thresholded (Otsu; the SAR in log amplitude), and closed regions
   that touch no image or footprint border are kept. An EO region pairs with the SAR region whose centroid
   (mapped into the EO pixel frame through the nominal georeferences) lies within PAIR_RADIUS of the EO
   centroid plus the rough shift, with an area within 25 %. A centroid averages thousands of boundary
   pixels, so speckle barely moves it, and a uniform difference in where the two thresholds fall cancels on
   a closed shape.
2. Line intersections (hand-picked, both halves). A person picked, by eye on the two images side by side,
   straight ground-level lines that both sensors show: the edges of the large apron (bright concrete in the
   EO, dark in the SAR, grass around it) and other pavement edges against grass, the centre lines of a
   taxiway junction, a service path and a road, and a taxiway edge. LINES holds each as a rough guide (EO
   pixels). Each image then places every line on its own: profiles across the guide, averaged in 8-px runs
   along it, give the strongest edge (signed gradient) or the centre of a thin line (halfway between its two
   facing edges), to 0.1 px; a straight line is fitted through them with outliers dropped. A point is where
   two lines cross (POINTS): the apron's corners, the junction's centre, the path's end on the taxiway edge,
   where a connector leaves the taxiway east of the runway, and the north corner of the paved area
   north-east of the apron. No window of the two images is ever compared, so no matcher is involved.

Uncertainty: each point is re-made over 27 variants (islands: threshold x0.9, x1, x1.1 in each image and SAR
smoothing sigma 3, 4, 5 px; lines: EO smoothing 0.7, 1, 1.5 px, SAR smoothing 1.5, 2, 3 px, guide moved
-1.5, 0, +1.5 px across itself with the line width x0.8, x1, x1.25); the value is the median and the
uncertainty the largest deviation from it. Points seen in fewer than half of the variants, or less sure than
MAX_UNCERTAINTY, are dropped.

Coverage: islands on the airfield (top-right, bottom-right); apron corners, the taxiway junction and the
paved area's corner (top-left); the path's end and the connector corner (top-right); the road junction
(bottom-left, dropped: 6.4 px). The bottom-left quarter (houses, parking, trees) has little else that the
two sensors show alike: cars move, and trees and buildings lay over in the SAR. Also tried there and not
kept: the empty parking lot's south-west corner (its diagonal kerb against grass; the SAR edge jumps to a
row of bright returns inside the lot, 3.8-6.9 px over guide placements), the highway's median (a thin line
in both) crossed with the road west of it (the road's line, extended 200 px to the crossing, moves with
smoothing and guide placement: 7-8 px), the warehouses (scattered bright points in the SAR, no outline).
Elsewhere, the runway threshold's two corners (blast-pad edges crossing the threshold) are stable to
1.0-1.35 px but not kept: the threshold is a painted bar in the EO and a bright line in the SAR (its lights,
which may stand up to 3 m beyond the bar).
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

from sar_eo_coreg.core.geometry import eo_pixel_to_sar_pixel, sar_pixel_to_eo_pixel  # noqa: E402
from sar_eo_coreg.core.raster import open_info  # noqa: E402
from sar_eo_coreg.evaluation.metrics import sample_offsets  # noqa: E402

ROUGH_SHIFT = np.array([-73.0, -14.0])  # only to pair regions and place the guides; not part of the truth
PAIR_RADIUS = 15.0  # EO pixels
MIN_AREA = 400  # EO pixels
EO_SIGMA = 2.0
MAX_UNCERTAINTY = 2.0  # px

# Hand-picked guides (EO pixels, from -> to): "edge" or a thin "line" of the given width (px).
LINES = {
    "apron_sw": ("edge", 0, (188, 382), (245, 465)),
    "apron_nw": ("edge", 0, (190, 359), (330, 262)),
    "apron_se": ("edge", 0, (270, 473), (450, 345)),
    "apron_ne": ("edge", 0, (456, 328), (436, 298)),
    "taxiway_sw": ("line", 11, (205, 88), (248, 52)),
    "taxiway_se": ("line", 5, (280, 57), (325, 116)),
    "road_ew": ("line", 5, (30, 914), (280, 914)),
    "street_ns": ("line", 5, (57, 930), (57, 995)),
    "taxiway_edge": ("edge", 0, (975, 452), (1050, 402)),
    "service_path": ("line", 3, (1022, 440), (1058, 488)),
    "taxiway_east_edge": ("edge", 0, (845, 321), (905, 415)),
    "connector_north_edge": ("edge", 0, (935, 428), (1015, 372)),
    "pavement_nw_edge": ("edge", 0, (410, 220), (458, 185)),
    "pavement_ne_edge": ("edge", 0, (466, 186), (481, 205)),
}
POINTS = {
    "apron_west_corner": ("apron_sw", "apron_nw"),
    "apron_south_corner": ("apron_sw", "apron_se"),
    "apron_east_corner": ("apron_se", "apron_ne"),
    "taxiway_junction": ("taxiway_sw", "taxiway_se"),
    "road_junction": ("road_ew", "street_ns"),
    "path_end": ("service_path", "taxiway_edge"),
    "connector_corner": ("taxiway_east_edge", "connector_north_edge"),
    "pavement_north_corner": ("pavement_nw_edge", "pavement_ne_edge"),
}
PROFILE_STEP = 0.1  # px across a line
RUN = 8  # px along a line averaged into one profile


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


def read_pair(eo_path, sar_path):
    """(EO info, SAR info, EO band 1, SAR band 1 as float32): what both methods work on."""
    eo_info, sar_info = open_info(eo_path, "EO"), open_info(sar_path, "SAR")
    with rasterio.open(eo_path) as src:
        eo = src.read(1).astype(np.float32)
    with rasterio.open(sar_path) as src:
        sar = src.read(1).astype(np.float32)
    return eo_info, sar_info, eo, sar


def island_points(pair):
    """{name: (EO col, EO row, dx, dy, uncertainty px)} for the grass-island centroids (`pair`: read_pair)."""
    eo_info, sar_info, eo, sar = pair
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
    points = {}
    for point in base:
        seen = np.array([p for found in variants for p in found if np.hypot(*(p[:2] - point[:2])) < 6])
        if len(seen) < len(variants) / 2:
            continue
        d = np.median(seen[:, 2:], axis=0)
        points[f"grass_island_{len(points) + 1}"] = (point[0], point[1], d[0], d[1], float(np.hypot(*(seen[:, 2:] - d).T).max()))
    return points


def _place_line(sample, kind, width, start, end, radius):
    """A line's point and unit direction in the image that `sample` reads, near the guide start -> end."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    along = (end - start) / np.hypot(*(end - start))
    across = np.array([-along[1], along[0]])
    s = np.arange(0.0, np.hypot(*(end - start)), 1.0)
    u = np.arange(-radius - 3 - 2 * width, radius + 3 + 2 * width + 1e-9, PROFILE_STEP)
    grid = start + s[:, None, None] * along + u[None, :, None] * across
    runs = len(s) // RUN
    profiles = sample(grid[..., 0], grid[..., 1])[: runs * RUN].reshape(runs, RUN, -1).mean(axis=1)
    s = s[: runs * RUN].reshape(runs, RUN).mean(axis=1)
    gradient = np.gradient(profiles, axis=1)
    inner = np.abs(u) <= radius + width / 2

    def strongest(response, where):
        k = np.clip(np.argmax(np.where(where, response, -np.inf), axis=1), 1, len(u) - 2)
        a, b, c = (response[np.arange(runs), k + i] for i in (-1, 0, 1))
        curvature = a - 2 * b + c
        return u[k] + PROFILE_STEP * 0.5 * (a - c) / np.where(curvature == 0, -1e-9, curvature)

    if kind == "edge":
        gradient = gradient * np.sign(np.median(gradient[:, inner].max(axis=1) + gradient[:, inner].min(axis=1)))
        offset = strongest(gradient, inner)
    else:  # a thin line: halfway between its two edges, which face each other
        middle = np.abs(u) <= width / 2
        gradient = gradient * np.sign(profiles[:, middle].mean() - profiles[:, inner & ~middle].mean())
        offset = 0.5 * (strongest(gradient, inner & (u < 0)) + strongest(-gradient, inner & (u > 0)))
    keep = np.ones(runs, bool)
    for _ in range(5):
        slope, intercept = np.polyfit(s[keep], offset[keep], 1)
        residual = offset - (slope * s + intercept)
        keep = np.abs(residual) < 3 * (1.4826 * np.median(np.abs(residual[keep])) + 0.05)
    direction = along + slope * across
    return start + intercept * across, direction / np.hypot(*direction)


def _cross(line_a, line_b):
    (pa, da), (pb, db) = line_a, line_b
    t = np.linalg.solve(np.array([da, -db]).T, pb - pa)
    return pa + t[0] * da


def line_points(pair):
    """{name: (EO col, EO row, dx, dy, uncertainty px)} for the hand-picked line intersections (`pair`: read_pair)."""
    eo_info, sar_info, eo, sar = pair
    log_sar = np.log1p(np.clip(sar, 0, np.percentile(sar[sar > 0], 99)))

    def sampler(image, to_sar):
        def sample(cols, rows):
            if to_sar:  # the SAR read where the EO frame plus the rough shift falls
                cols, rows = eo_pixel_to_sar_pixel(eo_info, sar_info, cols + ROUGH_SHIFT[0], rows + ROUGH_SHIFT[1])
            return cv2.remap(image, np.float32(cols), np.float32(rows), cv2.INTER_LINEAR)
        return sample

    eo_sigmas, sar_sigmas = (0.7, 1.0, 1.5), (1.5, 2.0, 3.0)
    eo_smoothed = {sigma: sampler(cv2.GaussianBlur(eo, (0, 0), sigma), False) for sigma in eo_sigmas}
    sar_smoothed = {sigma: sampler(cv2.GaussianBlur(log_sar, (0, 0), sigma), True) for sigma in sar_sigmas}

    def placed(eo_sigma, sar_sigma, shift, widen):
        lines = [{}, {}]
        for name, (kind, width, start, end) in LINES.items():
            start, end = np.asarray(start, float), np.asarray(end, float)
            along = (end - start) / np.hypot(*(end - start))
            start, end = (q + shift * np.array([-along[1], along[0]]) for q in (start, end))
            for side, sample in enumerate((eo_smoothed[eo_sigma], sar_smoothed[sar_sigma])):
                a, b, radius = start, end, 6.0
                for _ in range(3):  # find, then settle on the line with a narrower search
                    point, direction = _place_line(sample, kind, width * widen, a, b, radius)
                    a, b = (point + np.dot(q - point, direction) * direction for q in (a, b))
                    radius = 3.0
                lines[side][name] = (point, direction)
        return {name: (_cross(lines[0][x], lines[0][y]), _cross(lines[1][x], lines[1][y]) + ROUGH_SHIFT)
                for name, (x, y) in POINTS.items()}

    guide_variants = ((-1.5, 0.8), (0.0, 1.0), (1.5, 1.25))  # guide moved across itself (px), line width scaled
    variants = [placed(e, s, *g) for e, s, g in itertools.product(eo_sigmas, sar_sigmas, guide_variants)]
    points = {}
    for name in POINTS:
        at = np.median([v[name][0] for v in variants], axis=0)
        shifts = np.array([v[name][1] - v[name][0] for v in variants])
        d = np.median(shifts, axis=0)
        points[name] = (at[0], at[1], d[0], d[1], float(np.hypot(*(shifts - d).T).max()))
    return points


def truth_points(eo_path, sar_path):
    """{name: (EO col, EO row, dx, dy, uncertainty px)}: dx, dy = SAR minus EO in EO pixels."""
    pair = read_pair(eo_path, sar_path)
    points = {**island_points(pair), **line_points(pair)}
    return {name: row for name, row in points.items() if row[4] <= MAX_UNCERTAINTY}


def quadrants(truth, width, height) -> dict:
    """How many points lie in each quarter of the EO scene."""
    counts = dict.fromkeys(("top_left", "top_right", "bottom_left", "bottom_right"), 0)
    for col, row, *_ in truth.values():
        counts[("top_" if row < height / 2 else "bottom_") + ("left" if col < width / 2 else "right")] += 1
    return counts


def score(offsets_path, truth) -> dict:
    """The engine's offsets at the truth points: per-point error and the largest."""
    rows = np.array(list(truth.values()))
    error = np.hypot(*(sample_offsets(offsets_path, rows[:, :2]) - rows[:, 2:4]).T)
    return {"points": len(truth), "error_px": {name: round(float(e), 2) for name, e in zip(truth, error)},
            "max_error_px": round(float(np.nanmax(error)), 2), "within_3px": int(np.sum(error <= 3.0))}


def shift_fit(truth) -> dict:
    """The pair's shift from its truth points: the uniform shift (weighted by 1/uncertainty²) and whether an
    affine field explains the points better, by leave-one-out RMS (a model that only fits noise gets worse)."""
    rows = np.array(list(truth.values()))
    where, shift, weight = rows[:, :2], rows[:, 2:4], 1.0 / np.maximum(rows[:, 4], 0.3) ** 2

    def design(points, affine):
        return np.c_[np.ones(len(points)), points] if affine else np.ones((len(points), 1))

    def fit(keep, affine):
        root = np.sqrt(weight[keep])[:, None]
        return np.linalg.lstsq(design(where[keep], affine) * root, shift[keep] * root, rcond=None)[0]

    def loo_rms(affine):
        errors = [np.hypot(*(design(where[[i]], affine) @ fit(np.arange(len(rows)) != i, affine) - shift[i])[0])
                  for i in range(len(rows))]
        return round(float(np.sqrt(np.mean(np.square(errors)))), 2)

    uniform = fit(np.ones(len(rows), bool), affine=False)[0]
    return {"uniform_shift_px": [round(float(v), 2) for v in uniform], "loo_rms_uniform_px": loo_rms(False),
            "loo_rms_affine_px": loo_rms(True)}
