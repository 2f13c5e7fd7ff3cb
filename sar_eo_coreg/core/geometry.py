"""Coordinate conversions between EO pixels, map coordinates and SAR pixels.

Pixel coordinates are (col, row) with integer values at pixel centres. Displacements live in EO
pixels: the SAR location showing the ground of EO pixel p is p + d(p) in the EO pixel frame,
through the nominal georeferences (the SpaceNet 9 convention of offsets.tif).
"""

from __future__ import annotations

import numpy as np
from rasterio.warp import transform as transform_coords

from .raster import RasterInfo


def pixel_to_map(info: RasterInfo, cols, rows):
    """Pixel centres (col, row, any shape) of a raster to map coordinates in its CRS."""
    x, y = info.transform * (np.asarray(cols, np.float64) + 0.5, np.asarray(rows, np.float64) + 0.5)
    return np.asarray(x), np.asarray(y)


def map_to_pixel(info: RasterInfo, x, y):
    """Map coordinates in a raster's CRS to its pixel (col, row), pixel centres at integers."""
    c, r = ~info.transform * (np.asarray(x, np.float64), np.asarray(y, np.float64))
    return np.asarray(c) - 0.5, np.asarray(r) - 0.5


def reproject_xy(src: RasterInfo, dst: RasterInfo, x, y):
    """Coordinates from one CRS to another (unchanged when they are the same)."""
    if src.crs == dst.crs:
        return np.asarray(x, np.float64), np.asarray(y, np.float64)
    xs, ys = transform_coords(src.crs, dst.crs, np.ravel(x).tolist(), np.ravel(y).tolist())
    return np.reshape(xs, np.shape(x)), np.reshape(ys, np.shape(y))


def eo_pixel_to_sar_pixel(eo: RasterInfo, sar: RasterInfo, cols, rows):
    """EO pixel positions to the SAR pixel positions of the same map point (through both georeferences)."""
    x, y = reproject_xy(eo, sar, *pixel_to_map(eo, cols, rows))
    return map_to_pixel(sar, x, y)


def sar_pixel_to_eo_pixel(eo: RasterInfo, sar: RasterInfo, cols, rows):
    """SAR pixel positions to the EO pixel positions of the same map point (through both georeferences)."""
    x, y = reproject_xy(sar, eo, *pixel_to_map(sar, cols, rows))
    return map_to_pixel(eo, x, y)
