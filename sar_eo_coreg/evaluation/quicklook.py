"""Before/after checkerboards: EO and SAR tiles alternate, so misalignment shows as broken edges."""

from __future__ import annotations

import cv2
import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject

from ..core.raster import RasterInfo


def _grey(data: np.ndarray) -> np.ndarray:
    data = data.astype(np.float32)
    finite = data[np.isfinite(data) & (data != 0)]
    if finite.size == 0:
        return np.zeros(data.shape, np.uint8)
    lo, hi = np.percentile(finite, [1, 99])
    return np.clip((data - lo) / max(hi - lo, 1e-6) * 255, 0, 255).astype(np.uint8)


def on_eo_grid(path, eo: RasterInfo, shape) -> np.ndarray:
    """Band 1 of any raster resampled onto the EO grid at `shape` (h, w), by its georeference."""
    out = np.zeros(shape, np.float32)
    with rasterio.open(path) as src:
        scale_x, scale_y = eo.width / shape[1], eo.height / shape[0]
        reproject(rasterio.band(src, 1), out, dst_transform=eo.transform * eo.transform.scale(scale_x, scale_y),
                  dst_crs=eo.crs, dst_nodata=0, resampling=Resampling.bilinear)
    return out


def eo_luminance(eo: RasterInfo, shape) -> np.ndarray:
    with rasterio.open(eo.path) as src:
        data = src.read(out_shape=(src.count, *shape), resampling=Resampling.average).astype(np.float32)
    return data[:3].mean(0) if data.shape[0] >= 3 else data[0]


def checkerboard(eo: RasterInfo, sar_path, png_path, max_side=1024, tiles=8) -> None:
    scale = max(eo.width, eo.height) / max_side
    shape = (max(1, int(eo.height / max(scale, 1))), max(1, int(eo.width / max(scale, 1))))
    a, b = _grey(eo_luminance(eo, shape)), _grey(on_eo_grid(sar_path, eo, shape))
    tile = max(8, max(shape) // tiles)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
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
