"""Candidate points on the EO: the most structured place in each cell of a regular grid, skipping
flat areas and nodata, so points spread evenly over the overlap."""

from __future__ import annotations

import math

import cv2
import numpy as np

FLAT_FRACTION = 0.25  # a cell whose best structure is below this share of the median cell is flat
MIN_STRUCTURE = 2.0  # mean gradient magnitude (grey levels per pixel) below which a place is flat


def pick_candidates(eo: np.ndarray, sar_valid: np.ndarray, half: int, max_points: int):
    """eo: uint8 level image (0 = nodata); sar_valid: bool, SAR has data there (at the predicted place).
    Returns integer (x, y) positions (N, 2) and their structure strength."""
    h, w = eo.shape
    if h < 2 * half + 2 or w < 2 * half + 2:
        return np.zeros((0, 2), int), np.zeros(0)
    img = eo.astype(np.float32)
    mag = np.hypot(cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    size = (2 * half + 1, 2 * half + 1)
    strength = cv2.boxFilter(mag, -1, size, borderType=cv2.BORDER_CONSTANT)
    valid = cv2.boxFilter((eo > 0).astype(np.float32), -1, size, borderType=cv2.BORDER_CONSTANT) > 0.999
    valid &= sar_valid
    valid[:half + 1, :] = valid[-half - 1:, :] = False
    valid[:, :half + 1] = valid[:, -half - 1:] = False
    strength = np.where(valid, strength, -1.0)

    cell = max(half, int(math.ceil(math.sqrt(h * w / max(max_points, 1)))))
    ny, nx = h // cell, w // cell
    if ny == 0 or nx == 0:
        return np.zeros((0, 2), int), np.zeros(0)
    oy, ox = (h - ny * cell) // 2, (w - nx * cell) // 2
    blocks = strength[oy:oy + ny * cell, ox:ox + nx * cell].reshape(ny, cell, nx, cell).transpose(0, 2, 1, 3)
    flat = blocks.reshape(ny, nx, cell * cell)
    arg = flat.argmax(axis=2)
    best = np.take_along_axis(flat, arg[..., None], axis=2)[..., 0]
    by, bx = np.divmod(arg, cell)
    ys = oy + np.arange(ny)[:, None] * cell + by
    xs = ox + np.arange(nx)[None, :] * cell + bx
    keep = best > 0
    if keep.any():
        keep &= best >= max(MIN_STRUCTURE, FLAT_FRACTION * float(np.median(best[keep])))
    return np.c_[xs[keep], ys[keep]].astype(int), best[keep]
