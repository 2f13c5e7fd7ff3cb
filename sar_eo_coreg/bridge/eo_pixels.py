"""EO map coordinates to EO pixels, from the EO raster's geotransform (GDAL, in the QGIS process)."""

from __future__ import annotations

import numpy as np
from osgeo import gdal


class EoPixels:
    """EO map coordinates -> EO pixel (col, row), from the EO raster's geotransform."""

    def __init__(self, eo_path: str):
        ds = gdal.Open(eo_path)
        if ds is None:
            raise ValueError(f"Cannot open the EO raster {eo_path}.")
        self.inverse = gdal.InvGeoTransform(ds.GetGeoTransform())
        self.pixel_size = abs(ds.GetGeoTransform()[1]) or 1.0
        self.pixel_height = abs(ds.GetGeoTransform()[5]) or self.pixel_size
        self.extent = (0.0, 0.0, float(ds.RasterXSize - 1), float(ds.RasterYSize - 1))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        a = self.inverse
        x, y = xy[:, 0], xy[:, 1]
        return np.c_[a[0] + a[1] * x + a[2] * y, a[3] + a[4] * x + a[5] * y] - 0.5  # pixel centres at integers
