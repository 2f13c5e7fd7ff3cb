"""Known displacements for demos, tests and benchmarks (the DESIGN.md protocol).

From a pixel-aligned EO/SAR pair, write eo.tif and sar.tif with the same nominal georeference while
the SAR content is displaced by a known field: a global shift plus a smooth warp. The families:
- sine: a sum of sinusoids (DisplacementField), 1.5 % of the size;
- random: a random control grid every ~0.3 of the size, bicubic (RandomField), 1.5 % of the size;
- strong: the same with nodes every 1/4-1/2 of the size and 3.5 % of the size (RandomField.strong);
- relief: displacement along one image axis proportional to a smooth random height surface, as in SAR that
  was never terrain-corrected (ReliefField), up to 4 % of the size (40 px on a 1024 px, 10 m scene).
The truth at EO pixel p is D(p), the SAR location (EO pixel frame) showing p's ground, minus p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS

LOCAL_CRS = CRS.from_epsg(3857)  # for pairs that carry no georeference: a nominal metric CRS
ROWS_PER_BLOCK = 1024
REMAP_MAX = 8192  # columns per cv2.remap call


@dataclass
class DisplacementField:
    """The sampling field U: SAR content at q comes from the aligned SAR at q + U(q) (EO pixels)."""

    shift: np.ndarray  # (2,)
    directions: np.ndarray  # (K, 2) unit wave vectors
    amplitudes: np.ndarray  # (K, 2) displacement vector of each component
    phases: np.ndarray  # (K,)
    wavelength: float

    @classmethod
    def random(cls, width, height, seed, shift_fraction=0.10, warp_fraction=0.015, wavelength_fraction=0.5,
               components=3):
        rng = np.random.default_rng(seed)
        size = max(width, height)
        shift = rng.uniform(-shift_fraction, shift_fraction, 2) * np.array([width, height])
        angles = rng.uniform(0, 2 * np.pi, components)
        directions = np.c_[np.cos(angles), np.sin(angles)]
        amp_angles = rng.uniform(0, 2 * np.pi, components)
        amplitudes = np.c_[np.cos(amp_angles), np.sin(amp_angles)]
        field = cls(shift, directions, amplitudes, rng.uniform(0, 2 * np.pi, components), wavelength_fraction * size)
        # scale the warp so that its largest displacement over the image is warp_fraction of the size
        ys, xs = np.mgrid[0:height:max(1, height // 64), 0:width:max(1, width // 64)]
        peak = np.hypot(*field.warp(xs.ravel(), ys.ravel()).T).max()
        field.amplitudes = amplitudes * (warp_fraction * size / max(peak, 1e-9))
        return field

    def warp(self, x, y):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        phase = (np.multiply.outer(x, self.directions[:, 0]) + np.multiply.outer(y, self.directions[:, 1]))
        wave = np.sin(2 * np.pi * phase / self.wavelength + self.phases)
        return np.stack([wave @ self.amplitudes[:, 0], wave @ self.amplitudes[:, 1]], axis=-1)

    def sampling(self, x, y):
        """U(q): where the displaced SAR at q samples the aligned SAR, relative to q."""
        return self.warp(x, y) + self.shift

    def truth(self, x, y, iterations=30):
        """D(p), solving p + D = q with q + U(q) = p by fixed-point iteration."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        d = -self.sampling(x, y)
        for _ in range(iterations):
            d = -self.sampling(x + d[..., 0], y + d[..., 1])
        return d


class RandomField(DisplacementField):
    """A global shift plus a random smooth warp: random vectors on a coarse control grid (a node about every
    `wavelength_fraction / 2` of the size), interpolated by bicubic splines, scaled so the largest warp is
    `warp_fraction` of the size."""

    def __init__(self, shift, spline_x, spline_y, scale):
        self.shift, self._sx, self._sy, self._scale = np.asarray(shift, np.float64), spline_x, spline_y, scale

    @classmethod
    def random(cls, width, height, seed, shift_fraction=0.10, warp_fraction=0.015, wavelength_fraction=0.5):
        nodes = max(4, int(round(2.0 / wavelength_fraction)) + 2)
        return cls._make(width, height, np.random.default_rng(seed), shift_fraction, warp_fraction, nodes)

    @classmethod
    def strong(cls, width, height, seed, shift_fraction=0.10, warp_fraction=0.035, spacing=(0.25, 0.5)):
        """Peak warp 3.5 % of the size, a control node every 1/4 to 1/2 of the size (drawn per seed)."""
        rng = np.random.default_rng(seed)
        nodes = int(round(1.5 / rng.uniform(*spacing))) + 1  # the grid spans 1.5 x the image
        return cls._make(width, height, rng, shift_fraction, warp_fraction, nodes)

    @classmethod
    def _make(cls, width, height, rng, shift_fraction, warp_fraction, nodes):
        from scipy.interpolate import RectBivariateSpline

        shift = rng.uniform(-shift_fraction, shift_fraction, 2) * np.array([width, height])
        gx = np.linspace(-0.25 * width, 1.25 * width, nodes)
        gy = np.linspace(-0.25 * height, 1.25 * height, nodes)
        vectors = rng.normal(size=(2, nodes, nodes))
        sx, sy = (RectBivariateSpline(gy, gx, v, kx=3, ky=3) for v in vectors)
        field = cls(shift, sx, sy, 1.0)
        ys, xs = np.mgrid[0:height:max(1, height // 64), 0:width:max(1, width // 64)]
        peak = np.hypot(*field.warp(xs.ravel(), ys.ravel()).T).max()
        field._scale = warp_fraction * max(width, height) / max(peak, 1e-9)
        return field

    def warp(self, x, y):
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        dx = self._sx.ev(y.ravel(), x.ravel()).reshape(x.shape)
        dy = self._sy.ev(y.ravel(), x.ravel()).reshape(x.shape)
        return np.stack([dx, dy], axis=-1) * self._scale


class StrongField(RandomField):
    """The strong protocol: RandomField.strong."""

    @classmethod
    def random(cls, width, height, seed, **kwargs):
        return RandomField.strong(width, height, seed, **kwargs)


class ReliefField(DisplacementField):
    """A global shift plus a displacement along one axis (x or y, either sign, drawn per seed) proportional to a
    smooth random height surface: two octaves of random bicubic control grids (nodes every ~1/3 and ~1/8 of the
    size), scaled to [0, 1], times the peak displacement."""

    def __init__(self, shift, octaves, axis, peak, offset=0.0, span=1.0):
        self.shift, self._octaves, self._axis, self._peak = np.asarray(shift, np.float64), octaves, axis, peak
        self._offset, self._span = offset, span

    @classmethod
    def random(cls, width, height, seed, shift_fraction=0.10, relief_fraction=0.04):
        from scipy.interpolate import RectBivariateSpline

        rng = np.random.default_rng(seed)
        shift = rng.uniform(-shift_fraction, shift_fraction, 2) * np.array([width, height])
        octaves = []
        for nodes, weight in ((6, 1.0), (14, 0.35)):
            gx = np.linspace(-0.25 * width, 1.25 * width, nodes)
            gy = np.linspace(-0.25 * height, 1.25 * height, nodes)
            octaves.append((RectBivariateSpline(gy, gx, rng.normal(size=(nodes, nodes)), kx=3, ky=3), weight))
        axis = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])[rng.integers(4)]
        field = cls(shift, octaves, axis, relief_fraction * max(width, height))
        ys, xs = np.mgrid[0:height:max(1, height // 64), 0:width:max(1, width // 64)]
        h = field.height(xs.ravel(), ys.ravel())
        field._offset, field._span = float(h.min()), float(max(h.max() - h.min(), 1e-9))
        return field

    def height(self, x, y):
        """The raw height surface (unscaled)."""
        x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
        return sum(w * s.ev(y.ravel(), x.ravel()).reshape(x.shape) for s, w in self._octaves)

    def warp(self, x, y):
        h = np.clip((self.height(x, y) - self._offset) / self._span, 0.0, None)
        return h[..., None] * (self._peak * self._axis)


FIELDS = {"sine": DisplacementField, "random": RandomField, "strong": StrongField, "relief": ReliefField}


def _georef(src):
    if src.crs is not None:
        return src.crs, src.transform
    return LOCAL_CRS, Affine(1.0, 0, 500000.0, 0, -1.0, 5000000.0)


def write_pair(eo_src, sar_src, eo_out, sar_out, field: DisplacementField, sar_pixel_scale: float = 1.0,
               gsd_m: float = None):
    """Write the EO unchanged (with a georeference) and the displaced SAR, optionally on a grid whose pixel
    is `sar_pixel_scale` EO pixels. The SAR gets nodata=0 (valid zeros are raised to 1)."""
    with rasterio.open(eo_src) as eo, rasterio.open(sar_src) as sar:
        crs, transform = _georef(eo)
        if eo.crs is None and gsd_m:
            transform = transform * Affine.scale(gsd_m)
        profile = {"driver": "GTiff", "crs": crs, "transform": transform, "width": eo.width, "height": eo.height,
                   "count": eo.count, "dtype": eo.dtypes[0], "compress": "deflate", "tiled": True}
        with rasterio.open(eo_out, "w", **profile) as dst:
            for _, window in eo.block_windows(1):
                dst.write(eo.read(window=window), window=window)
        aligned = sar.read(1)
        width, height = int(math.ceil(eo.width / sar_pixel_scale)), int(math.ceil(eo.height / sar_pixel_scale))
        sar_profile = dict(profile, count=1, dtype=aligned.dtype.name, width=width, height=height, nodata=0,
                           transform=transform * Affine.scale(sar_pixel_scale))
        with rasterio.open(sar_out, "w", **sar_profile) as dst:
            for row0 in range(0, height, ROWS_PER_BLOCK):
                rows = min(ROWS_PER_BLOCK, height - row0)
                jj, ii = np.mgrid[row0:row0 + rows, 0:width].astype(np.float64)
                qx = (ii + 0.5) * sar_pixel_scale - 0.5  # SAR pixel centre in the EO pixel frame
                qy = (jj + 0.5) * sar_pixel_scale - 0.5
                u = field.sampling(qx, qy)
                src_x, src_y = qx + u[..., 0], qy + u[..., 1]
                block = np.zeros((rows, width), aligned.dtype)
                for col0 in range(0, width, REMAP_MAX):  # OpenCV's remap takes images under 32767 px a side
                    cols = slice(col0, min(col0 + REMAP_MAX, width))
                    block[:, cols] = _remap_crop(aligned, src_x[:, cols], src_y[:, cols])
                dst.write(block[None], window=((row0, row0 + rows), (0, width)))


def _remap_crop(image: np.ndarray, src_x: np.ndarray, src_y: np.ndarray) -> np.ndarray:
    """cv2.remap (bilinear, 0 outside) of the part of `image` the coordinates reach; valid zeros raised to 1."""
    x0 = int(np.clip(np.floor(np.nanmin(src_x)) - 2, 0, image.shape[1] - 1))
    x1 = int(np.clip(np.ceil(np.nanmax(src_x)) + 3, x0 + 1, image.shape[1]))
    y0 = int(np.clip(np.floor(np.nanmin(src_y)) - 2, 0, image.shape[0] - 1))
    y1 = int(np.clip(np.ceil(np.nanmax(src_y)) + 3, y0 + 1, image.shape[0]))
    crop = image[y0:y1, x0:x1]
    lifted = np.maximum(crop, 1) if np.issubdtype(crop.dtype, np.integer) else crop
    return cv2.remap(lifted, (src_x - x0).astype(np.float32), (src_y - y0).astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def truth_points(field: DisplacementField, width, height, sar_width, sar_height, sar_pixel_scale=1.0, step=None,
                 margin=0):
    """Tie points on a regular lattice of EO pixels where the displaced SAR has content."""
    step = step or max(4, min(width, height) // 40)
    ys, xs = np.mgrid[margin:height - margin:step, margin:width - margin:step]
    points = np.c_[xs.ravel(), ys.ravel()].astype(np.float64)
    truth = field.truth(points[:, 0], points[:, 1])
    q = (points + truth + 0.5) / sar_pixel_scale - 0.5
    inside = (q[:, 0] >= 1) & (q[:, 0] <= sar_width - 2) & (q[:, 1] >= 1) & (q[:, 1] <= sar_height - 2)
    # the SAR must also show aligned content there (sampling stays inside the source)
    src = points + truth + field.sampling(points[:, 0] + truth[:, 0], points[:, 1] + truth[:, 1])
    inside &= (src[:, 0] >= 0) & (src[:, 0] <= width - 1) & (src[:, 1] >= 0) & (src[:, 1] <= height - 1)
    return points[inside], truth[inside]
