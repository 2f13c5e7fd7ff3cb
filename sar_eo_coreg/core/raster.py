"""Opening and validating rasters, and reading them onto a working grid in windows.

The working grid is the EO grid, or a coarser grid with the same origin and orientation. Reading onto
it goes through GDAL's warper (rasterio.warp.reproject), which handles rotated geotransforms, CRS
differences and nodata, and reads only the source blocks it needs.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.errors import RasterioError, RasterioIOError
from rasterio.transform import from_gcps
from rasterio.warp import reproject, transform_bounds
from rasterio.warp import transform as transform_coords
from rasterio.windows import Window

from .errors import CoregError

STRIP_ROWS = 512  # rows per strip when materialising a level image


@dataclass(frozen=True)
class RasterInfo:
    """A raster as the engine needs it: size, bands, type, CRS, geotransform (map units per pixel), nodata."""
    path: str
    width: int
    height: int
    count: int
    dtype: str
    crs: CRS
    transform: Affine
    nodata: Optional[float]
    georeference: str = "geotransform"  # or how it was made: "affine fitted to N GCPs (max residual X px)"

    @property
    def is_complex(self) -> bool:
        """Complex (SLC) samples: the engine reads and writes their amplitude."""
        return self.dtype.startswith("complex")

    @property
    def pixel_size(self) -> float:
        """Pixel size in CRS units (the mean of the two axes; works for rotated transforms)."""
        t = self.transform
        return (math.hypot(t.a, t.d) + math.hypot(t.b, t.e)) / 2.0

    @property
    def pixel_size_m(self) -> float:
        """Pixel size in metres; geographic CRSs are converted at the raster's centre latitude."""
        if self.crs.is_geographic:
            _, lat = self.transform * (self.width / 2.0, self.height / 2.0)
            metres_per_degree = 111_320.0 * math.sqrt((1 + math.cos(math.radians(lat)) ** 2) / 2.0)
            return self.pixel_size * metres_per_degree
        return self.pixel_size * (self.crs.linear_units_factor[1] if self.crs.linear_units_factor else 1.0)

    def bounds_in(self, crs: CRS) -> Tuple[float, float, float, float]:
        """The raster's bounds (x0, y0, x1, y1) in `crs`, densified when reprojected."""
        xs, ys = zip(*(self.transform * c for c in [(0, 0), (self.width, 0), (0, self.height), (self.width, self.height)]))
        bounds = (min(xs), min(ys), max(xs), max(ys))
        return bounds if crs == self.crs else transform_bounds(self.crs, crs, *bounds, densify_pts=21)


def open_info(path, role: str, crs=None) -> RasterInfo:
    """Validate a raster and return its description. `role` ("EO" or "SAR") goes into error messages.
    `crs` (EPSG code, WKT, PROJ string) replaces the file's CRS, as a CRS set on the layer in QGIS does."""
    path = os.fspath(path)
    override = _parse_crs(crs, role) if crs else None
    if not str(path).strip():
        raise CoregError(f"No {role} raster given (the path is empty). Choose the {role} raster.")
    if not os.path.exists(path):
        raise CoregError(f"{role} file not found: {path}. Check the path.")
    if os.path.isdir(path):
        raise CoregError(f"{role} path is a folder, not a raster: {path}. Give a GeoTIFF or another GDAL raster.")
    try:
        with rasterio.open(path) as ds:
            transform, crs, georeference = ds.transform, ds.crs, "geotransform"
            gcps, gcp_crs = ds.gcps
            if transform == Affine.identity() and len(gcps) >= 3:  # GCPs only (SAR products often): use them
                transform, georeference = _affine_from_gcps(gcps)
                crs = crs or gcp_crs
            info = RasterInfo(
                path=path, width=ds.width, height=ds.height, count=ds.count, dtype=ds.dtypes[0] if ds.count else "",
                crs=override or crs, transform=transform, nodata=ds.nodata, georeference=georeference,
            )
            if ds.count == 0 or ds.width == 0 or ds.height == 0:
                raise CoregError(f"{role} raster is empty (no bands or no pixels): {path}.")
            _read_last_block(ds, role)  # first: a truncated file can also look like one without a CRS
            if info.crs is None:
                raise CoregError(
                    f"{role} raster has no CRS: {path}. Assign one (QGIS: Raster > Projections > Assign "
                    f"Projection, or gdal_edit.py -a_srs), or give --{role.lower()}-crs."
                )
            if info.transform == Affine.identity():
                raise CoregError(f"{role} raster has no geotransform and fewer than 3 GCPs: {path}. Georeference it "
                                 "first (QGIS: Raster > Georeferencer, or gdalwarp with its GCPs).")
    except CoregError:
        raise
    except (RasterioIOError, RasterioError) as exc:
        if _looks_like_tiff(path):
            raise CoregError(f"The {role} file {path} is a TIFF that cannot be read: it is truncated or corrupt "
                             f"({_first_line(exc)}). Copy or export it again.") from None
        raise CoregError(f"{role} file is not a readable raster: {path} ({_first_line(exc)}).") from None
    return info


def _affine_from_gcps(gcps):
    """The least-squares affine of a raster's GCPs, and how well it fits them (max residual, pixels)."""
    transform = from_gcps(gcps)
    inverse = ~transform
    residual = max(math.hypot(*(np.subtract(inverse * (g.x, g.y), (g.col, g.row)))) for g in gcps)
    return transform, f"affine fitted to {len(gcps)} GCPs (max residual {residual:.1f} px)"


def _parse_crs(text, role: str) -> CRS:
    try:
        return CRS.from_user_input(text)
    except Exception:  # noqa: BLE001 (pyproj/rasterio raise several kinds for bad definitions)
        raise CoregError(f"The {role} CRS '{str(text)[:60]}' is not a CRS. Give an EPSG code (EPSG:32631), WKT or "
                         "a PROJ string.") from None


def _looks_like_tiff(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _read_last_block(ds, role: str) -> None:
    """A truncated file fails on its last block; reading it is cheap."""
    block_h, block_w = ds.block_shapes[0]
    row0 = (ds.height - 1) // block_h * block_h
    col0 = (ds.width - 1) // block_w * block_w
    try:
        ds.read(1, window=((row0, ds.height), (col0, ds.width)))
    except (RasterioIOError, RasterioError):
        raise CoregError(
            f"Could not read the {role} raster {ds.name}: it is truncated or corrupt. Copy or export it again."
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


@dataclass(frozen=True)
class Grid:
    """A north-up-or-rotated pixel grid: the EO grid at some integer decimation."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    def window(self, col0: int, row0: int, width: int, height: int) -> Grid:
        """The sub-grid of (width x height) pixels from pixel (col0, row0); it may reach beyond this grid."""
        return Grid(self.crs, self.transform * Affine.translation(col0, row0), width, height)

    def decimated(self, factor: int) -> Grid:
        """This grid with pixels `factor` times larger (sides rounded up)."""
        return Grid(
            self.crs, self.transform * Affine.scale(factor), math.ceil(self.width / factor), math.ceil(self.height / factor)
        )


def eo_grid(info: RasterInfo) -> Grid:
    """The EO raster's own pixel grid."""
    return Grid(info.crs, info.transform, info.width, info.height)


def to_display_range(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map values linearly from [lo, hi] to 1..255; NaN becomes 0 (the invalid marker)."""
    scaled = (values - lo) * (254.0 / max(hi - lo, 1e-12)) + 1.0
    out = np.clip(np.nan_to_num(scaled, nan=0.0), 1.0, 255.0).astype(np.uint8)
    out[~np.isfinite(values)] = 0
    return out


@dataclass(frozen=True)
class Radiometry:
    """How raw values become one float channel (before the display stretch)."""

    bands: Tuple[int, ...]
    weights: Tuple[float, ...]
    log: bool
    amplitude: bool = False  # complex SAR: the modulus is taken first

    def apply(self, stack: np.ndarray) -> np.ndarray:
        """stack: (bands, h, w) float32 (complex64 for complex SAR) with NaN for nodata -> (h, w) float32."""
        if self.amplitude:
            stack = np.abs(stack)
        value = np.tensordot(np.asarray(self.weights, np.float32), stack, axes=1)
        if self.log:
            with np.errstate(divide="ignore", invalid="ignore"):
                value = np.where(value > 0, 10.0 * np.log10(np.maximum(value, 1e-10)), np.nan)
        return value.astype(np.float32)

    def describe(self, info: RasterInfo) -> str:
        """For the run report: how the raw values were read."""
        source = f"{info.dtype}" + (", amplitude of the complex values" if self.amplitude else "")
        return f"{source}; {'linear, converted to dB' if self.log else 'used as they are (dB or display-scaled)'}"


def eo_radiometry(info: RasterInfo, bands: Optional[Sequence[int]] = None) -> Radiometry:
    """Default: RGB (bands 1-3) to luminance when there are 3 or 4 bands, else band 1."""
    if bands:
        bad = [b for b in bands if not 1 <= b <= info.count]
        if bad:
            raise CoregError(f"EO band {bad[0]} does not exist: the EO raster has {info.count} band(s).")
        return Radiometry(tuple(bands), tuple(1.0 / len(bands) for _ in bands), log=False)
    if info.count >= 3:
        return Radiometry((1, 2, 3), (0.299, 0.587, 0.114), log=False)
    return Radiometry((1,), (1.0,), log=False)


def sar_radiometry(info: RasterInfo, scale: str = "auto") -> Radiometry:
    """SAR to a log (dB-like) scale. `auto`: 8-bit is taken as already display-scaled; float or signed-integer
    data with negative values as dB; other data as linear amplitude or intensity (log-transformed). Complex
    (SLC) data: the amplitude, always linear."""
    if info.is_complex:
        if scale in ("db", "display"):
            raise CoregError(f"The SAR raster holds complex values ({info.dtype}); their amplitude is linear, not "
                             f"'{scale}'. Use --sar-scale auto or linear.")
        scale = "linear"
    if scale == "auto":
        scale = "display" if info.dtype == "uint8" else "linear"
        if info.dtype.startswith(("float", "int")):
            with rasterio.open(info.path) as ds:
                sample = ds.read(1, out_shape=(min(256, ds.height), min(256, ds.width)), masked=True)
            scale = "db" if np.ma.min(sample) < 0 else "linear"
    if scale not in ("display", "db", "linear"):
        raise CoregError(f"Unknown SAR scale '{scale}'. Use auto, linear, db or display.")
    return Radiometry((1,), (1.0,), log=(scale == "linear"), amplitude=info.is_complex)


def read_on_grid(
    info: RasterInfo, radiometry: Radiometry, grid: Grid, row0: int = 0, rows: Optional[int] = None,
    resampling: Resampling = Resampling.average,
) -> np.ndarray:
    """Read rows [row0, row0+rows) of `grid` from the raster; float32 (h, w), NaN where there is no data.
    A source several times finer than the grid is first read decimated by GDAL (an integer factor, averaged),
    then warped: several times faster than warping every source pixel."""
    rows = grid.height - row0 if rows is None else rows
    transform = grid.transform * Affine.translation(0, row0)
    stack = np.full((len(radiometry.bands), rows, grid.width), np.nan,
                    np.complex64 if radiometry.amplitude else np.float32)
    try:
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), rasterio.open(info.path) as src:  # threaded decoding
            origin = _pixel_offset(info, grid.crs, transform)
            if origin is not None and not radiometry.amplitude:  # the raster's own pixels: a plain windowed read
                _read_window(src, radiometry, origin, stack)
                return radiometry.apply(stack)
            source, source_transform = _decimated_source(src, info, radiometry, grid.crs, transform, grid.width, rows)
            if source is not None:
                reproject(source=source, destination=stack, src_crs=info.crs, src_transform=source_transform,
                          src_nodata=None if isinstance(source, rasterio.Band) else np.nan, dst_transform=transform,
                          dst_crs=grid.crs, dst_nodata=np.nan, resampling=resampling, num_threads=2)
    except (RasterioIOError, RasterioError) as exc:
        raise CoregError(f"Could not read {info.path}: {_first_line(exc)}. The file may be truncated or corrupt.") from None
    return radiometry.apply(stack)


def _pixel_offset(info: RasterInfo, crs: CRS, transform: Affine):
    """(col, row) when a grid with this transform is the raster's own pixel grid moved by whole pixels, else None."""
    if crs != info.crs:
        return None
    relative = ~info.transform * transform
    if not all(abs(a - b) < 1e-9 for a, b in zip((relative.a, relative.b, relative.d, relative.e), (1, 0, 0, 1))):
        return None
    col, row = round(relative.c), round(relative.f)
    return (col, row) if abs(relative.c - col) < 1e-6 and abs(relative.f - row) < 1e-6 else None


def _read_window(src, radiometry: Radiometry, origin, stack: np.ndarray) -> None:
    """Fill `stack` (bands, h, w; NaN) with the raster's pixels from (col, row) on; nodata and outside stay NaN."""
    col, row = origin
    _, h, w = stack.shape
    c0, r0 = max(col, 0), max(row, 0)
    c1, r1 = min(col + w, src.width), min(row + h, src.height)
    if c1 <= c0 or r1 <= r0:
        return
    data = src.read(list(radiometry.bands), window=Window(c0, r0, c1 - c0, r1 - r0), masked=True, out_dtype=np.float32)
    stack[:, r0 - row:r1 - row, c0 - col:c1 - col] = np.ma.filled(data, np.nan)


def _decimated_source(src, info: RasterInfo, radiometry: Radiometry, crs: CRS, transform: Affine, width: int,
                      height: int):
    """What to warp onto a (width x height) grid window: the source bands themselves, or the source window under
    it read by GDAL at 1/k with averaging (float32, NaN for nodata) and that read's transform. k is the grid's
    own factor when the grid is the source's grid decimated (the EO: the warp then only copies), else half a
    grid pixel in source pixels (the warp then still averages 2x2 or more cells). (None, None) when the window
    lies outside the source."""
    bands = rasterio.band(src, list(radiometry.bands))
    if radiometry.amplitude:  # complex samples: averaging them before the modulus would cancel speckle phase
        return bands, info.transform
    edge = np.linspace(0.0, 1.0, 17)
    cols = np.r_[edge * width, np.full(17, width), edge[::-1] * width, np.zeros(17)]
    rows = np.r_[np.zeros(17), edge * height, np.full(17, height), edge[::-1] * height]
    xs, ys = transform * (cols, rows)
    if crs != info.crs:
        xs, ys = transform_coords(crs, info.crs, xs, ys)
    sc, sr = ~info.transform * (np.asarray(xs), np.asarray(ys))
    relative = ~info.transform * transform  # grid pixel -> source pixel (when the CRSs agree)
    if crs == info.crs:
        ratio = min(math.hypot(relative.a, relative.d), math.hypot(relative.b, relative.e))
    else:  # the pixel size from the footprint
        ratio = min((sc.max() - sc.min()) / width, (sr.max() - sr.min()) / height)
    whole = [round(v) if abs(v - round(v)) < 1e-6 else None for v in relative[:6]]
    own = crs == info.crs and None not in whole and whole[1] == whole[3] == 0 and whole[0] == whole[4]
    k = int(round(ratio)) if own else int(ratio // 2)
    if k < 2:
        return bands, info.transform
    # whole k x k cells inside the source, from the grid's origin (own grid) or the footprint's corner,
    # covering the footprint with 2 cells of margin; a partial cell at the source's edge is left out (nodata)
    ox, oy = (whole[2], whole[5]) if own else (math.floor(sc.min()), math.floor(sr.min()))
    c0 = max(ox + k * (math.floor((sc.min() - ox) / k) - 2), ox % k)
    r0 = max(oy + k * (math.floor((sr.min() - oy) / k) - 2), oy % k)
    nx = min(math.ceil((sc.max() - c0) / k) + 2, (info.width - c0) // k)
    ny = min(math.ceil((sr.max() - r0) / k) + 2, (info.height - r0) // k)
    if nx <= 0 or ny <= 0:
        return None, None
    window = Window(c0, r0, nx * k, ny * k)
    data = src.read(list(radiometry.bands), window=window, out_shape=(len(radiometry.bands), ny, nx),
                    resampling=Resampling.average, masked=True, out_dtype=np.float32)
    return np.ma.filled(data, np.nan), src.window_transform(window) * Affine.scale(k)


def stretch_limits(sample: np.ndarray, role: str, path: str) -> Tuple[float, float]:
    """The 1st and 99th percentiles of the valid values; one-line CoregError when there are none."""
    finite = sample[np.isfinite(sample)]
    if finite.size < 64:
        raise CoregError(f"{role} raster has no valid pixels over the overlap (all nodata?): {path}.")
    lo, hi = np.percentile(finite, [1.0, 99.0])
    if hi - lo <= 1e-9:
        raise CoregError(f"{role} raster is constant over the overlap (value {lo:g}): {path}. Nothing to match.")
    return float(lo), float(hi)


class DisplaySource:
    """A raster as the matchers see it, on any grid: uint8, 1..255 stretched between its 1st and 99th
    percentiles, 0 = nodata. The stretch is fixed by the first read (the whole working grid), so later reads of
    windows (native refinement) see the same values."""

    def __init__(self, info: RasterInfo, radiometry: Radiometry, role: str):
        self.info, self.radiometry, self.role = info, radiometry, role
        self.limits: Optional[Tuple[float, float]] = None

    def read(self, grid: Grid, cancel=None, resampling: Resampling = Resampling.average) -> np.ndarray:
        """The raster on `grid`, read in strips (one pass)."""
        values = np.empty((grid.height, grid.width), np.float32)
        for row0 in range(0, grid.height, STRIP_ROWS):
            if cancel is not None:
                cancel()
            rows = min(STRIP_ROWS, grid.height - row0)
            values[row0:row0 + rows] = read_on_grid(self.info, self.radiometry, grid, row0, rows, resampling)
        if self.limits is None:
            self.limits = display_limits(values, self.role, self.info.path)
        return to_display_range(values, *self.limits)

    def under(self, grid: Grid, qx: np.ndarray, qy: np.ndarray, margin: int = 2):
        """The pixels under positions (qx, qy) of `grid` (pixel coordinates, float32 arrays): (uint8 image, map_x,
        map_y) with the positions in that image, for a bilinear resample. The raster's own pixels when it shares
        the grid's CRS and is not finer than the grid (one interpolation, no warp); else the raster read onto
        the grid window the positions span."""
        relative = ~self.info.transform * grid.transform  # grid pixel -> raster pixel
        coarser = math.hypot(relative.a, relative.d) <= 1.5 and math.hypot(relative.b, relative.e) <= 1.5
        if grid.crs == self.info.crs and coarser and not self.radiometry.amplitude:
            mx = relative.a * (qx + 0.5) + relative.b * (qy + 0.5) + relative.c - 0.5
            my = relative.d * (qx + 0.5) + relative.e * (qy + 0.5) + relative.f - 0.5
            own = Grid(self.info.crs, self.info.transform, self.info.width, self.info.height)
        else:
            mx, my, own = qx, qy, grid
        col0, row0 = int(math.floor(np.nanmin(mx))) - margin, int(math.floor(np.nanmin(my))) - margin
        window = own.window(col0, row0, int(math.ceil(np.nanmax(mx))) + margin + 1 - col0,
                            int(math.ceil(np.nanmax(my))) + margin + 1 - row0)
        image = self.read(window, resampling=Resampling.bilinear)
        return image, (mx - col0).astype(np.float32), (my - row0).astype(np.float32)


def read_display_image(info: RasterInfo, radiometry: Radiometry, grid: Grid, role: str, cancel=None) -> np.ndarray:
    """A raster on `grid` as the matchers see it (DisplaySource, read once)."""
    return DisplaySource(info, radiometry, role).read(grid, cancel)


def read_pixel_image(path, role: str) -> np.ndarray:
    """A raster file on its own pixel grid, georeferenced or not (as some aligned pairs are), as the matchers
    see it: the role's default radiometry (EO: RGB luminance; SAR: dB) and the same stretch as
    read_display_image. For training data, where there is no EO grid to read onto."""
    path = os.fspath(path)
    with rasterio.open(path) as ds:
        info = RasterInfo(path=path, width=ds.width, height=ds.height, count=ds.count, dtype=ds.dtypes[0],
                          crs=ds.crs, transform=ds.transform, nodata=ds.nodata)
        radiometry = eo_radiometry(info) if role == "EO" else sar_radiometry(info)
        stack = ds.read(list(radiometry.bands), masked=True)
    stack = stack.astype(np.complex64 if radiometry.amplitude else np.float32).filled(np.nan)
    return _stretched(radiometry.apply(stack), role, path)


def display_limits(values: np.ndarray, role: str, path: str) -> Tuple[float, float]:
    """stretch_limits from at most 1024² samples of a large image."""
    step = max(1, math.ceil(max(values.shape) / 1024))  # the percentiles from <= 1024^2 samples
    return stretch_limits(values[::step, ::step], role, path)


def _stretched(values: np.ndarray, role: str, path: str) -> np.ndarray:
    return to_display_range(values, *display_limits(values, role, path))
