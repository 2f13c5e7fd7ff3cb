"""A field of values on a regular lattice of a pixel grid, with bilinear sampling (numpy only; cv2 on demand)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

import numpy as np


@dataclass
class Lattice:
    """Values at lattice points (x0 + i*step, y0 + j*step) of a level grid; values (ny, nx, k)."""

    x0: float
    y0: float
    step: float
    values: np.ndarray

    @classmethod
    def over(cls, width: int, height: int, step: int, k: int = 2) -> Lattice:
        """A zero lattice of `k` values every `step` pixels over a width x height grid, centred on it."""
        nx, ny = (width - 1) // step + 1, (height - 1) // step + 1
        x0, y0 = ((width - 1) - (nx - 1) * step) // 2, ((height - 1) - (ny - 1) * step) // 2
        return cls(float(x0), float(y0), float(step), np.zeros((ny, nx, k)))

    @property
    def shape(self) -> Tuple[int, int]:
        """(ny, nx): lattice points down and across."""
        return self.values.shape[:2]

    def coords(self) -> Tuple[np.ndarray, np.ndarray]:
        """The lattice points' x (nx,) and y (ny,) in level pixels."""
        ny, nx = self.shape
        return self.x0 + self.step * np.arange(nx), self.y0 + self.step * np.arange(ny)

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Bilinear values at points (x, y) (any shape); constant beyond the outermost lattice points."""
        ny, nx = self.shape
        fx = np.clip((np.asarray(x, np.float64) - self.x0) / self.step, 0, nx - 1)
        fy = np.clip((np.asarray(y, np.float64) - self.y0) / self.step, 0, ny - 1)
        ix, iy = np.minimum(fx.astype(int), max(nx - 2, 0)), np.minimum(fy.astype(int), max(ny - 2, 0))
        wx, wy = (fx - ix)[..., None], (fy - iy)[..., None]
        ix1, iy1 = np.minimum(ix + 1, nx - 1), np.minimum(iy + 1, ny - 1)
        v = self.values
        return ((1 - wy) * ((1 - wx) * v[iy, ix] + wx * v[iy, ix1]) + wy * ((1 - wx) * v[iy1, ix] + wx * v[iy1, ix1]))

    def dense(self, width: int, height: int) -> np.ndarray:
        """(height, width, k) float32 on every pixel of the level (separable bilinear)."""
        return self.dense_at(np.arange(width), np.arange(height))

    def dense_at(self, cols: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """(len(rows), len(cols), k) float32 at every (col, row) pair (separable bilinear)."""
        ny, nx = self.shape
        mx = np.clip((np.asarray(cols, np.float64) - self.x0) / self.step, 0, nx - 1).astype(np.float32)
        my = np.clip((np.asarray(rows, np.float64) - self.y0) / self.step, 0, ny - 1).astype(np.float32)
        map_x, map_y = np.broadcast_to(mx, (len(my), len(mx))), np.broadcast_to(my[:, None], (len(my), len(mx)))
        import cv2

        out = [cv2.remap(self.values[..., c].astype(np.float32), map_x, map_y, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE) for c in range(self.values.shape[2])]
        return np.stack(out, axis=-1)

    def finer(self, step: int, width: int, height: int) -> Lattice:
        """This displacement field on a lattice of the next finer level (2x the pixels, 2x the values)."""
        target = Lattice.over(width, height, step, self.values.shape[2])
        gx, gy = np.meshgrid(*target.coords())
        target.values = self.scaled(2.0).sample(gx, gy)
        return target

    def scaled(self, factor: float, displacement: bool = True) -> Lattice:
        """The same field on a grid `factor` times finer (pixel centres: x' = (x + 0.5) * factor - 0.5). A
        displacement field's values are in pixels and scale with it; other values (confidence) do not."""
        return Lattice((self.x0 + 0.5) * factor - 0.5, (self.y0 + 0.5) * factor - 0.5, self.step * factor,
                       self.values * factor if displacement else self.values)
