"""Before/after checkerboards: EO and SAR tiles alternate, so misalignment shows as broken edges."""

from __future__ import annotations

import cv2
import numpy as np
from affine import Affine

from ..core.raster import Grid, RasterInfo, eo_radiometry, open_info, read_display_image, sar_radiometry


def checkerboard(eo: RasterInfo, sar_path, png_path, max_side=1024, tiles=8) -> None:
    """EO and SAR tiles alternating, both on the EO grid at <= max_side px, read as the matchers see them."""
    scale = max(1.0, max(eo.width, eo.height) / max_side)
    grid = Grid(eo.crs, eo.transform * Affine.scale(scale), max(1, int(eo.width / scale)),
                max(1, int(eo.height / scale)))
    sar = open_info(sar_path, "SAR")
    a = read_display_image(eo, eo_radiometry(eo), grid, "EO")
    b = read_display_image(sar, sar_radiometry(sar), grid, "SAR")
    tile = max(8, max(a.shape) // tiles)
    yy, xx = np.mgrid[0:a.shape[0], 0:a.shape[1]]
    board = np.where(((yy // tile) + (xx // tile)) % 2 == 0, a, b)
    cv2.imwrite(str(png_path), board)


def side_by_side(left_png, right_png, out_png, labels=("before", "after")) -> None:
    left, right = cv2.imread(str(left_png)), cv2.imread(str(right_png))
    h = min(left.shape[0], right.shape[0])
    panels = []
    for img, label in zip((left, right), labels):
        img = cv2.resize(img, (int(img.shape[1] * h / img.shape[0]), h))
        cv2.putText(img, label, (12, 36), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 255), 2, cv2.LINE_AA)
        panels.append(img)
    cv2.imwrite(str(out_png), np.hstack([panels[0], np.full((h, 8, 3), 255, np.uint8), panels[1]]))
