"""Georeferencing edge cases: rotated geotransforms and CRS differences."""

import numpy as np

from sar_eo_coreg.core.geometry import eo_pixel_to_sar_pixel, pixel_to_map, sar_pixel_to_eo_pixel
from sar_eo_coreg.core.raster import open_info


def test_rotated_umbra_geotransform_round_trips(data_dir):
    info = open_info(data_dir / "umbra_rotated.tif", "SAR")
    assert info.transform.b != 0  # really rotated
    cols, rows = np.array([0.0, 100.0, 255.0]), np.array([0.0, 50.0, 255.0])
    c, r = eo_pixel_to_sar_pixel(info, info, cols, rows)
    assert np.allclose(c, cols) and np.allclose(r, rows)
    x, y = pixel_to_map(info, np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    assert np.isclose(np.hypot(x[1] - x[0], y[1] - y[0]), info.pixel_size, rtol=0.01)
    assert 0.5 < info.pixel_size_m < 0.7


def test_geographic_pair_maps_between_grids(data_dir):
    eo, sar = open_info(data_dir / "airport_eo.tif", "EO"), open_info(data_dir / "airport_sar.tif", "SAR")
    assert eo.crs.is_geographic and 0.5 < eo.pixel_size_m < 1.5
    cols, rows = np.array([10.0, 128.0, 200.0]), np.array([20.0, 128.0, 250.0])
    c, r = eo_pixel_to_sar_pixel(eo, sar, cols, rows)
    back_c, back_r = sar_pixel_to_eo_pixel(eo, sar, c, r)
    assert np.allclose(back_c, cols, atol=1e-6) and np.allclose(back_r, rows, atol=1e-6)
