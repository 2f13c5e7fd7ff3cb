"""Block-wise writing of offsets.tif, confidence.tif and aligned_sar.tif in one pass over the EO grid.

Per block, the displacement model and the EO->SAR pixel mapping are evaluated exactly on a lattice
every LATTICE_STEP pixels and interpolated bilinearly in between (as GDAL's approximate transformer
does), so cost grows with area and memory stays bounded by the block size.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import cv2
import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.windows import Window

from .errors import CoregError
from .geometry import eo_pixel_to_sar_pixel
from .raster import RasterInfo

BLOCK = 512
WRITE_CACHE_MB = 256  # GDAL's block cache while writing: bounds the blocks waiting for compression
LATTICE_STEP = 16
# offsets and confidence are written rounded to these steps (far below their accuracy): rounded smooth fields
# compress twice as small and fast (integer differencing predictor)
OFFSET_STEP = 1.0 / 256  # EO pixels
CONFIDENCE_STEP = 1.0 / 1024
INTERPOLATION = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def _lattice(col0, row0, w, h):
    xs = col0 + np.arange(0, w + LATTICE_STEP, LATTICE_STEP, dtype=np.float64)
    ys = row0 + np.arange(0, h + LATTICE_STEP, LATTICE_STEP, dtype=np.float64)
    return np.meshgrid(xs, ys)


def _upsample(layers: np.ndarray, w: int, h: int) -> np.ndarray:
    """Bilinear interpolation of lattice layers (k, ny, nx), one point every LATTICE_STEP pixels, onto the
    (h, w) block: float32 (k, h, w). Linear along rows, then along columns, each step a broadcast of two
    neighbours (cheap, single-threaded numpy)."""
    t = np.arange(LATTICE_STEP, dtype=np.float32) / LATTICE_STEP
    a = layers.astype(np.float32)
    k, ny, nx = a.shape
    a = (a[:, :-1, None, :] * (1 - t)[:, None] + a[:, 1:, None, :] * t[:, None]).reshape(k, -1, nx)[:, :h]
    return (a[..., :-1, None] * (1 - t) + a[..., 1:, None] * t).reshape(k, h, -1)[..., :w]


def _profile(eo: RasterInfo, count, dtype, nodata, rounded=False):
    return {
        "driver": "GTiff", "width": eo.width, "height": eo.height, "count": count, "dtype": dtype, "crs": eo.crs,
        "transform": eo.transform, "nodata": nodata, "tiled": True, "blockxsize": BLOCK, "blockysize": BLOCK,
        "compress": "deflate", "zlevel": 1, "predictor": 3 if dtype.startswith("float") and not rounded else 2,
        "BIGTIFF": "IF_SAFER",
        "num_threads": "ALL_CPUS",  # GDAL compresses blocks in parallel
    }


def aligned_dtype(sar: RasterInfo) -> np.dtype:
    """The aligned SAR keeps the SAR's data type; complex (SLC) data is written as float32 amplitude."""
    return np.dtype("float32") if sar.is_complex else np.dtype(sar.dtype)


def _sar_nodata(sar: RasterInfo):
    if sar.nodata is not None and not sar.is_complex:
        return sar.nodata
    return float("nan") if aligned_dtype(sar).kind == "f" else 0


def write_aligned_outputs(model, eo: RasterInfo, sar: RasterInfo, offsets_path, aligned_path, resampling="bilinear",
                          progress=None, cancel=None, confidence=None, confidence_path=None):
    """Write offsets.tif (float32 dx, dy in EO pixels), the SAR resampled onto the EO grid and, when a
    confidence lattice (EO pixels, values 0..1) is given, confidence.tif."""
    interpolation = INTERPOLATION[resampling]
    nodata = _sar_nodata(sar)
    blocks = [(c, r) for r in range(0, eo.height, BLOCK) for c in range(0, eo.width, BLOCK)]
    with rasterio.Env(GDAL_CACHEMAX=WRITE_CACHE_MB), rasterio.open(sar.path) as src, \
            rasterio.open(offsets_path, "w", **_profile(eo, 2, "float32", float("nan"), rounded=True)) as off, \
            rasterio.open(aligned_path, "w", **_profile(eo, sar.count, aligned_dtype(sar).name, nodata)) as out, \
            _optional_raster(confidence_path if confidence is not None else None, eo) as conf:
        off.set_band_description(1, "dx (EO pixels, SAR minus EO)")
        off.set_band_description(2, "dy (EO pixels, SAR minus EO)")
        sar_px_per_eo_px = _scale_ratio(eo, sar)
        for i, (col0, row0) in enumerate(blocks):
            if cancel is not None:
                cancel()
            w, h = min(BLOCK, eo.width - col0), min(BLOCK, eo.height - row0)
            window = Window(col0, row0, w, h)
            gx, gy = _lattice(col0, row0, w, h)
            disp = model.predict(np.c_[gx.ravel(), gy.ravel()]).reshape(*gx.shape, 2)
            sc, sr = eo_pixel_to_sar_pixel(eo, sar, gx + disp[..., 0], gy + disp[..., 1])
            layers = [disp[..., 0], disp[..., 1], sc, sr]
            if conf is not None:
                layers.append(np.clip(confidence.sample(gx, gy)[..., 0], 0.0, 1.0))
            fields = _upsample(np.stack(layers), w, h)
            sar_c, sar_r = fields[2], fields[3]
            inside = (sar_c > -0.5) & (sar_c < sar.width - 0.5) & (sar_r > -0.5) & (sar_r < sar.height - 0.5)
            off.write(_rounded(fields[:2], OFFSET_STEP, ~inside), window=window)
            if conf is not None:
                conf.write(_rounded(fields[4:], CONFIDENCE_STEP, ~inside), window=window)
            out.write(_resample_block(src, sar, sar_c, sar_r, inside, interpolation, nodata, sar_px_per_eo_px),
                      window=window)
            if progress is not None:
                progress((i + 1) / len(blocks), "Writing aligned SAR and offsets")
    _build_overviews(aligned_path)


def _rounded(values: np.ndarray, step: float, outside: np.ndarray) -> np.ndarray:
    """Float32 layers (k, h, w) rounded to multiples of `step` in place, NaN outside the SAR."""
    values *= np.float32(1.0 / step)
    np.rint(values, out=values)
    values *= np.float32(step)
    values[:, outside] = np.nan
    return values


@contextmanager
def _optional_raster(path, eo: RasterInfo):
    if path is None:
        yield None
        return
    with rasterio.open(path, "w", **_profile(eo, 1, "float32", float("nan"), rounded=True)) as ds:
        ds.set_band_description(1, "confidence of the offsets (0..1)")
        yield ds


def _scale_ratio(eo: RasterInfo, sar: RasterInfo) -> float:
    cx, cy = eo.width / 2.0, eo.height / 2.0
    c, r = eo_pixel_to_sar_pixel(eo, sar, np.array([cx, cx + 1.0, cx]), np.array([cy, cy, cy + 1.0]))
    return float(max(math.hypot(c[1] - c[0], r[1] - r[0]), math.hypot(c[2] - c[0], r[2] - r[0])))


def _resample_block(src, sar: RasterInfo, sar_c, sar_r, inside, interpolation, nodata, ratio):
    h, w = sar_c.shape
    dtype = aligned_dtype(sar)
    out = np.full((sar.count, h, w), nodata, dtype=dtype)
    if not inside.any():
        return out
    c0 = max(int(np.floor(sar_c[inside].min())) - 3, 0)
    r0 = max(int(np.floor(sar_r[inside].min())) - 3, 0)
    c1 = min(int(np.ceil(sar_c[inside].max())) + 4, sar.width)
    r1 = min(int(np.ceil(sar_r[inside].max())) + 4, sar.height)
    factor = max(1, int(ratio))  # SAR much finer than EO: read a decimated window (uses overviews)
    shape = (sar.count, max(1, math.ceil((r1 - r0) / factor)), max(1, math.ceil((c1 - c0) / factor)))
    try:
        data = src.read(window=Window(c0, r0, c1 - c0, r1 - r0), out_shape=shape,
                        resampling=Resampling.average if factor > 1 else Resampling.nearest, masked=True)
    except RasterioError as exc:  # not a write fault: the input changed under the run
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CoregError(f"Could not read the SAR raster {sar.path} while writing the outputs ({first}): it was "
                         "truncated or changed during the run; nothing was changed. Check the file and run again.") from None
    map_x = ((sar_c - c0 + 0.5) / factor - 0.5).astype(np.float32)
    map_y = ((sar_r - r0 + 0.5) / factor - 0.5).astype(np.float32)
    valid = (~np.ma.getmaskarray(data[0])).astype(np.uint8)
    valid_out = cv2.remap(valid, map_x, map_y, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0
    valid_out &= inside
    for b in range(sar.count):
        values = np.ma.abs(data[b]) if np.iscomplexobj(data) else data[b]  # complex: the amplitude
        band = np.ma.getdata(values).astype(np.float32)
        bad = np.ma.getmaskarray(values) | ~np.isfinite(band)
        if bad.any():  # nodata: the mean of the valid values, so no false edges ring into the result
            band[bad] = band[~bad].mean() if not bad.all() else 0.0
        resampled = cv2.remap(band, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            resampled = np.clip(np.rint(resampled), info.min, info.max, out=resampled)
        np.copyto(out[b], resampled, where=valid_out, casting="unsafe")
    return out


def _build_overviews(path):
    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), rasterio.open(path, "r+") as ds:
        factors = []
        factor = 2
        while max(ds.width, ds.height) / factor >= 256:
            factors.append(factor)
            factor *= 2
        if factors:
            ds.build_overviews(factors, Resampling.average)
            ds.update_tags(ns="rio_overview", resampling="average")
