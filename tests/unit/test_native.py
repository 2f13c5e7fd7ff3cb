"""Refinement at the pair's own pixel, for scenes larger than the working grid (core/align/native.py)."""

import cv2
import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

from sar_eo_coreg.core import pipeline
from sar_eo_coreg.core.align import native
from sar_eo_coreg.core.features import CfogDescriptor
from sar_eo_coreg.core.lattice import Lattice
from sar_eo_coreg.core.raster import Grid
from sar_eo_coreg.core.request import CoregParams
from sar_eo_coreg.evaluation import synthetic
from tests.conftest import working_image


def _in_memory_source(eo: np.ndarray, sar: np.ndarray) -> native.NativeSource:
    """Both images as the refinement reads them, on a north-up grid of their own pixels (outside = nodata)."""
    h, w = eo.shape
    grid = Grid(CRS.from_epsg(32611), Affine(10, 0, 0, 0, -10, 0), w, h)

    def read_eo(window: Grid) -> np.ndarray:
        col0, row0 = round(window.transform.c / 10), round(-window.transform.f / 10)
        out = np.zeros((window.height, window.width), np.uint8)
        rows = slice(max(row0, 0), min(row0 + window.height, h))
        cols = slice(max(col0, 0), min(col0 + window.width, w))
        out[rows.start - row0:rows.stop - row0, cols.start - col0:cols.stop - col0] = eo[rows, cols]
        return out

    return native.NativeSource(grid, 1, read_eo, lambda qx, qy: (sar, qx.astype(np.float32), qy.astype(np.float32)))


def test_fine_windows_recover_a_known_subpixel_shift_and_only_the_remainder_of_a_field(data_dir):
    """Real optical texture against a contrast-reversed copy displaced by (2.3, -1.4) px: every point finds the
    shift to 0.25 px, confidently; through a field of (1, -1) it finds the remainder."""
    eo = working_image(data_dir / "s1s2_eo.tif", "EO")
    shift = np.array([2.3, -1.4])
    moved = cv2.warpAffine(255 - eo, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), eo.shape[::-1],
                           flags=cv2.INTER_LINEAR, borderValue=0)  # moved(p + shift) = 255 - eo(p)
    source = _in_memory_source(eo, np.maximum(moved, 1))
    xs, ys = np.array([96, 192, 288, 384]), np.array([128, 320])
    for prior in ([0.0, 0.0], [1.0, -1.0]):
        field = Lattice(16.0, 16.0, 64.0, np.broadcast_to(prior, (8, 8, 2)).copy())
        update, confidence = native._match_band(source, CfogDescriptor(), field, xs, ys, radius=6)
        assert update.shape == (2, 4, 2) and confidence.shape == (2, 4)
        assert np.abs(update - (shift - prior)).max() < 0.25
        assert confidence.min() > 0.3


def _warped_fixture(data_dir, tmp_path):
    field = synthetic.FIELDS["random"].random(512, 512, seed=3)
    synthetic.write_pair(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", tmp_path / "eo.tif", tmp_path / "sar.tif",
                         field)
    return tmp_path / "eo.tif", tmp_path / "sar.tif"


def _offsets(folder):
    with rasterio.open(folder / "offsets.tif") as src:
        return src.read()


def test_a_scene_larger_than_the_working_grid_is_refined_at_its_own_pixel(data_dir, tmp_path, monkeypatch):
    """The real S1/S2 fixture, warped, with the working grid capped at 128 px (a 4x coarser field, as a 8192²
    scene meets it): the refined offsets come closer to what the engine finds matching at the native pixel
    than the same 4x field without refinement (the user's own --working-gsd-m, which is never refined)."""
    eo, sar = _warped_fixture(data_dir, tmp_path)
    native_run = pipeline.coregister(eo, sar, tmp_path / "native")
    assert "native" not in native_run.report.engine  # the working grid is the EO grid: nothing to refine
    monkeypatch.setattr(pipeline, "FIELD_MAX_SIDE", 128)
    refined = pipeline.coregister(eo, sar, tmp_path / "refined")
    coarse = pipeline.coregister(eo, sar, tmp_path / "coarse", CoregParams(working_gsd_m=40.0))
    assert refined.report.working_grid == coarse.report.working_grid == [128, 128]
    stats = refined.report.engine["native"]
    assert stats["grid"] == [512, 512] and stats["confident"] > 0 and stats["radius_px"] == 6
    assert "native" not in coarse.report.engine
    reference = _offsets(tmp_path / "native")

    def distance(folder):
        gap = np.hypot(*(_offsets(folder) - reference))[32:-32, 32:-32]
        return float(np.nanmedian(gap))

    assert distance(tmp_path / "refined") < 0.9 * distance(tmp_path / "coarse")
    assert refined.report.verdict == "aligned"
    assert len(refined.tiepoints) > 0


def test_refinement_reads_each_raster_once_per_band_of_points(data_dir, tmp_path, monkeypatch):
    """Memory does not grow with the scene: the refinement reads bands of at most BAND_PX rows of points plus
    their chips, never the whole raster."""
    eo, sar = _warped_fixture(data_dir, tmp_path)
    monkeypatch.setattr(pipeline, "FIELD_MAX_SIDE", 128)
    monkeypatch.setattr(native, "BAND_PX", 128)
    heights = []
    real_read = pipeline.DisplaySource.read

    def read(self, grid, cancel=None, **kwargs):
        heights.append(grid.height)
        return real_read(self, grid, cancel, **kwargs)

    monkeypatch.setattr(pipeline.DisplaySource, "read", read)
    pipeline.coregister(eo, sar, tmp_path / "out", CoregParams(tiepoints_only=True))
    band_reads = heights[2:]  # after the two working-grid reads
    assert len(band_reads) == 2 * 4  # 4 bands of points (4 x 128 rows), EO and SAR each
    assert max(band_reads) < 512 / 2
