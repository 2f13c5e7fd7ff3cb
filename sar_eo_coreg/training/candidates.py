"""Candidate points on the EO: the most structured place in each cell of a regular grid, skipping
flat areas and nodata, so points spread evenly over the overlap. Works in strips of cell rows, so
memory stays bounded on large scenes."""

from __future__ import annotations

import math

import cv2
import numpy as np

FLAT_FRACTION = 0.25  # a cell whose best structure is below this share of the median cell is flat
MIN_STRUCTURE = 2.0  # mean gradient magnitude (grey levels per pixel) below which a place is flat
STRIP_PIXELS = 4_000_000  # pixels per strip


def _strength(eo: np.ndarray, sar_valid: np.ndarray, half: int) -> np.ndarray:
    """Mean gradient magnitude over the template around each pixel; -1 where the template is not all valid."""
    img = eo.astype(np.float32)
    mag = np.hypot(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    size = (2 * half + 1, 2 * half + 1)
    strength = cv2.boxFilter(mag, -1, size, borderType=cv2.BORDER_CONSTANT)
    valid = cv2.boxFilter((eo > 0).astype(np.float32), -1, size, borderType=cv2.BORDER_CONSTANT) > 0.999
    return np.where(valid & sar_valid, strength, -1.0)


def pick_candidates(eo: np.ndarray, sar_valid: np.ndarray, half: int, max_points: int):
    """eo: uint8 level image (0 = nodata); sar_valid: bool, SAR has data there (at the predicted place).
    Returns integer (x, y) positions (N, 2) and their structure strength."""
    h, w = eo.shape
    empty = np.zeros((0, 2), int), np.zeros(0)
    if h < 2 * half + 2 or w < 2 * half + 2:
        return empty
    cell = max(half // 2, 8, int(math.ceil(math.sqrt(h * w / max(max_points, 1)))))  # templates may overlap
    ny, nx = h // cell, w // cell
    if ny == 0 or nx == 0:
        return empty
    oy, ox = (h - ny * cell) // 2, (w - nx * cell) // 2
    rows_per_strip = max(1, STRIP_PIXELS // (w * cell))
    xs_all, ys_all, best_all = [], [], []
    for r0 in range(0, ny, rows_per_strip):
        r1 = min(ny, r0 + rows_per_strip)
        y0, y1 = oy + r0 * cell, oy + r1 * cell
        pad0, pad1 = min(y0, half + 2), min(h - y1, half + 2)  # context for the filters
        strength = _strength(eo[y0 - pad0:y1 + pad1], sar_valid[y0 - pad0:y1 + pad1], half)[pad0:pad0 + y1 - y0]
        ys = np.arange(y0, y1)
        strength[(ys < half + 1) | (ys >= h - half - 1)] = -1.0  # templates must fit inside the image
        strength[:, :half + 1] = strength[:, w - half - 1:] = -1.0
        blocks = strength[:, ox:ox + nx * cell].reshape(r1 - r0, cell, nx, cell).transpose(0, 2, 1, 3)
        flat = blocks.reshape(r1 - r0, nx, cell * cell)
        arg = flat.argmax(axis=2)
        best_all.append(np.take_along_axis(flat, arg[..., None], axis=2)[..., 0])
        by, bx = np.divmod(arg, cell)
        ys_all.append(y0 + np.arange(r1 - r0)[:, None] * cell + by)
        xs_all.append(ox + np.arange(nx)[None, :] * cell + bx)
    best, ys, xs = np.vstack(best_all), np.vstack(ys_all), np.vstack(xs_all)
    keep = best > 0
    if keep.any():
        keep &= best >= max(MIN_STRUCTURE, FLAT_FRACTION * float(np.median(best[keep])))
    return np.c_[xs[keep], ys[keep]].astype(int), best[keep]
