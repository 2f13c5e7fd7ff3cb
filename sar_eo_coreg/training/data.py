"""Training data: (a) SpaceNet 9 (EO GeoTIFF, SAR GeoTIFF, tie-point CSV) and (b) the aligned pairs of
../shared/data/aligned with synthetic displacements sampled on the fly. Both become `PairImages`: EO and
SAR on one working grid, as the engine reads them, plus points whose SAR displacement is known.

A sample: an EO chip centred on a point and a SAR chip around a position shifted by a random sub-pixel
offset (with a small random rotation/scale and a random flip/90° rotation, applied consistently to both
chips and the label), cut with the engine's chip geometry (training.heatmap_task)."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

import cv2
import numpy as np

from ..core.errors import CoregError
from ..core.raster import read_pixel_image
from ..models.card import Normalisation
from .candidates import pick_candidates
from .heatmap_task import MARGIN, MAX_RADIUS, TEMPLATE_HALF

WITHDRAWN = ("srif_optsar",)  # sources never trained on (srif_optsar: not aligned)
SPACENET_COLUMNS = ("sar_row", "sar_col", "optical_row", "optical_col")
EO_HALF = TEMPLATE_HALF + MARGIN
CANDIDATES_PER_PAIR = 600
DIHEDRAL = [np.array(m, np.float64) for m in (
    [[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]],
    [[-1, 0], [0, 1]], [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[0, -1], [-1, 0]])]


@dataclass
class PairImages:
    source: str
    pair_id: str
    eo: np.ndarray  # uint8 (h, w), 0 = nodata
    sar: np.ndarray  # uint8 (h, w) on the EO grid
    points: np.ndarray  # (N, 2) EO pixel x, y
    disp: np.ndarray  # (N, 2) SAR minus EO position, EO pixels

    @property
    def group(self) -> str:
        return f"{self.source}/{self.pair_id}"


def _structured_points(eo, sar, limit=CANDIDATES_PER_PAIR):
    points, _ = pick_candidates(eo, sar > 0, TEMPLATE_HALF, limit)
    return points.astype(np.float64)


def load_aligned_pairs(index_csv, sources: Optional[Sequence[str]] = None, limit: Optional[int] = None
                       ) -> List[PairImages]:
    """The aligned pairs of an index.csv (source, id, eo, sar, ...), withdrawn sources left out: zero
    displacement at the EO's most structured places."""
    index_csv = Path(index_csv)
    pairs = []
    with open(index_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh)
                if (not sources or r["source"] in sources) and r["source"] not in WITHDRAWN]
    for row in rows[:limit]:
        root = index_csv.parent if (index_csv.parent / row["eo"]).exists() else index_csv.parent.parent
        eo, sar = read_pixel_image(root / row["eo"], "EO"), read_pixel_image(root / row["sar"], "SAR")
        points = _structured_points(eo, sar)
        pairs.append(PairImages(row["source"], row["id"], eo, sar, points, np.zeros_like(points)))
    return pairs


def read_spacenet_csv(path) -> np.ndarray:
    """A SpaceNet 9 tie-point CSV -> (N, 4) float: sar_row, sar_col, optical_row, optical_col."""
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in SPACENET_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise CoregError(f"{path} is not a SpaceNet 9 tie-point CSV: column '{missing[0]}' is missing.")
        try:
            rows = [[float(r[c]) for c in SPACENET_COLUMNS] for r in reader]
        except (TypeError, ValueError) as exc:
            raise CoregError(f"{path} has a non-numeric tie-point value ({exc}).") from None
    data = np.array(rows, np.float64).reshape(-1, 4)
    if len(data) == 0:
        raise CoregError(f"{path} holds no tie points.")
    if (data < 0).any():
        raise CoregError(f"{path} has negative pixel coordinates; SpaceNet 9 rows and columns are >= 0.")
    return data


def load_spacenet(eo_path, sar_path, csv_path, pair_id: Optional[str] = None) -> PairImages:
    """One SpaceNet 9 AOI: the SAR is read onto the EO grid and each tie point's SAR pixel converted to an EO
    pixel through the georeferences, so its displacement is known on the working grid."""
    from ..core.geometry import sar_pixel_to_eo_pixel
    from ..core.raster import eo_grid, eo_radiometry, open_info, read_display_image, sar_radiometry

    ties = read_spacenet_csv(csv_path)
    eo_info, sar_info = open_info(str(eo_path), "EO"), open_info(str(sar_path), "SAR")
    for role, info, rows, cols in (("optical", eo_info, ties[:, 2], ties[:, 3]), ("SAR", sar_info, ties[:, 0], ties[:, 1])):
        if rows.max() >= info.height or cols.max() >= info.width:
            raise CoregError(f"{csv_path}: a {role} tie point lies outside its raster ({info.width}x{info.height}).")
    grid = eo_grid(eo_info)  # as the engine reads them: both on the EO grid
    eo = read_display_image(eo_info, eo_radiometry(eo_info), grid, "EO")
    sar = read_display_image(sar_info, sar_radiometry(sar_info), grid, "SAR")
    points = np.c_[ties[:, 3], ties[:, 2]]
    sar_c, sar_r = sar_pixel_to_eo_pixel(eo_info, sar_info, ties[:, 1], ties[:, 0])
    return PairImages("spacenet9", pair_id or Path(csv_path).stem, eo, sar, points, np.c_[sar_c, sar_r] - points)


def assign_folds(pairs: Sequence[PairImages], k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold of each pair, grouped by source and pair (a pair is never on both sides) and balanced per source."""
    folds = np.zeros(len(pairs), int)
    rng = np.random.default_rng(seed)
    by_source = {}
    for i, pair in enumerate(pairs):
        by_source.setdefault(pair.source, []).append(i)
    offset = 0
    for source in sorted(by_source):
        members = np.array(by_source[source])[rng.permutation(len(by_source[source]))]
        folds[members] = (np.arange(len(members)) + offset) % k
        offset += len(members)
    return folds


def normalisation(pairs: Sequence[PairImages]) -> Normalisation:
    """Mean and std of valid pixels of the (training) pairs."""
    def stats(images):
        values = np.concatenate([im[im > 0][:: max(1, im.size // 200_000)] for im in images]) / 255.0
        return float(values.mean()), float(values.std() + 1e-6)

    eo_mean, eo_std = stats([p.eo for p in pairs])
    sar_mean, sar_std = stats([p.sar for p in pairs])
    return Normalisation(eo_mean, eo_std, sar_mean, sar_std)


def _cut(image, centre, linear, size):
    """Chip (size, size) whose pixel u samples image at centre + linear @ (u - size/2); 0 outside."""
    ref = np.array([size / 2.0, size / 2.0])
    offset = np.asarray(centre, np.float64) - linear @ ref
    matrix = np.c_[linear, offset]
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


@dataclass
class Sample:
    eo_chip: np.ndarray  # (64, 64) uint8
    sar_chip: np.ndarray  # (s, s) uint8, s = 2*(EO_HALF + radius)
    offset: np.ndarray  # (2,) where the EO point lies in the SAR chip, relative to its centre
    radius: int


def draw_sample(pair: PairImages, rng: np.random.Generator, radius: Optional[int] = None, augment: bool = True,
                max_offset: Optional[float] = None) -> Optional[Sample]:
    """A chip pair around a random point of `pair` (None when the chips would hold too much nodata)."""
    if len(pair.points) == 0:
        return None
    k = int(rng.integers(len(pair.points)))
    p, d = pair.points[k], pair.disp[k]
    radius = int(rng.integers(3, MAX_RADIUS + 1)) if radius is None else radius
    limit = radius if max_offset is None else min(radius, max_offset)
    t = rng.uniform(-limit, limit, 2)
    rotate = DIHEDRAL[int(rng.integers(8))] if augment else DIHEDRAL[0]
    if augment:
        angle, scale = math.radians(rng.uniform(-3, 3)), rng.uniform(0.96, 1.04)
        warp = scale * np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    else:
        warp = np.eye(2)
    # EO chip pixel u shows EO at p + R(u - ref); SAR chip pixel u shows SAR at p + d + R(W(u - ref) - t),
    # so the EO point appears in the SAR chip at ref + W^-1 t.
    eo_chip = _cut(pair.eo, p, rotate, 2 * EO_HALF)
    sar_chip = _cut(pair.sar, p + d - rotate @ t, rotate @ warp, 2 * (EO_HALF + radius))
    if (eo_chip == 0).mean() > 0.05 or (sar_chip == 0).mean() > 0.2:
        return None
    return Sample(eo_chip, sar_chip, np.linalg.solve(warp, t), radius)


def draw_samples(pairs: Sequence[PairImages], n: int, seed: int, **kwargs) -> List[Sample]:
    """n samples, reproducible from the seed; pairs drawn uniformly."""
    rng = np.random.default_rng(seed)
    out = []
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        sample = draw_sample(pairs[int(rng.integers(len(pairs)))], rng, **kwargs)
        if sample is not None:
            out.append(sample)
    return out
