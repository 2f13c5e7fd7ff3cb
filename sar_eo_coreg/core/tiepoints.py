"""Tie points: the in-memory record, and reading/writing GeoPackage, SpaceNet 9 CSV and QGIS
Georeferencer .points files.

The GeoPackage is written with sqlite3 following the OGC GeoPackage 1.2 encoding (no GDAL vector
driver needed in the worker); QGIS and GDAL open it as two layers: `tiepoints` (points on the EO
position) and `links` (EO -> SAR lines), and after the engine's self-check a third, `fallback_regions`
(polygons where the result follows the global model, with why).
"""

from __future__ import annotations

import csv
import os
import sqlite3
from dataclasses import dataclass, field

import numpy as np

from . import gpkg
from .errors import CoregError
from .geometry import map_to_pixel, pixel_to_map, reproject_xy, sar_pixel_to_eo_pixel
from .raster import RasterInfo
from .transforms import global_deviation

POINT_FIELDS = ("id", "eo_x", "eo_y", "sar_x", "sar_y", "dx", "dy", "score", "inlier", "enabled", "residual",
                "residual_x", "residual_y", "off_global", "suspect", "uncertainty")
RESIDUAL_DECIMALS = 6  # residuals as written (px): the last digits of a fit depend on the BLAS's thread count
CSV_FIELDS = ("sar_row", "sar_col", "optical_row", "optical_col", "score", "inlier")


@dataclass
class TiePoints:
    """eo_px: (N, 2) EO pixel (col, row); disp: (N, 2) SAR minus EO in EO pixels."""

    eo_px: np.ndarray
    disp: np.ndarray
    score: np.ndarray
    inlier: np.ndarray
    enabled: np.ndarray = field(default=None)
    residual: np.ndarray = field(default=None)  # (N, 2) leave-one-out residual, EO pixels (NaN where not fitted)
    labels: list = field(default=None)  # how messages name each point ("id 7", "line 12"); default: its id
    uncertainty: np.ndarray = field(default=None)  # (N,) the engine's typical error there, EO px (NaN: from a file)

    def __post_init__(self):
        n = len(self.eo_px)
        self.eo_px = np.asarray(self.eo_px, np.float64).reshape(n, 2)
        self.disp = np.asarray(self.disp, np.float64).reshape(n, 2)
        self.score = np.asarray(self.score, np.float64)
        self.inlier = np.asarray(self.inlier, bool)
        self.enabled = self.inlier.copy() if self.enabled is None else np.asarray(self.enabled, bool)
        self.residual = np.full((n, 2), np.nan) if self.residual is None else np.asarray(self.residual, np.float64)
        self.labels = [f"id {i + 1}" for i in range(n)] if self.labels is None else list(self.labels)
        self.uncertainty = np.full(n, np.nan) if self.uncertainty is None else np.asarray(self.uncertainty, np.float64)

    def __len__(self):
        return len(self.eo_px)

    @property
    def residual_norm(self) -> np.ndarray:
        """Length of each point's residual vector, EO pixels (NaN where none)."""
        return np.hypot(self.residual[:, 0], self.residual[:, 1])

    @property
    def used(self) -> np.ndarray:
        """Points that enter the fit: enabled and inlier."""
        return self.enabled & self.inlier


DUPLICATE_PX = 0.1  # two points this close in both images are one point
MAX_TIEPOINTS = 100_000  # a tie-point file above this is refused (counted in a stream, before it is read)


def merge_duplicates(tp: TiePoints) -> int:
    """Take repeated points out of the fit: among used points closer than DUPLICATE_PX to each other in both the EO
    and the SAR image, the first stays used and the others become outliers (a repeated point would count its own
    residual twice and make a leave-one-out RMSE look better than it is). Returns how many were taken out."""
    used = np.flatnonzero(tp.used)
    key = np.c_[tp.eo_px[used], tp.eo_px[used] + tp.disp[used]]
    order = np.lexsort(key.T[::-1])
    repeated = np.zeros(len(used), bool)
    for a, i in enumerate(order):  # sorted by EO x: only neighbours within DUPLICATE_PX in x can repeat it
        if repeated[i]:
            continue
        for j in order[a + 1:]:
            if key[j, 0] - key[i, 0] > DUPLICATE_PX:
                break
            if not repeated[j] and np.abs(key[j] - key[i]).max() <= DUPLICATE_PX:
                repeated[j] = True
    tp.inlier[used[repeated]] = False
    return int(repeated.sum())


# ---- GeoPackage ----------------------------------------------------------------------------------
def _records(tp: TiePoints, eo: RasterInfo):
    eo_x, eo_y = pixel_to_map(eo, tp.eo_px[:, 0], tp.eo_px[:, 1])
    sar_x, sar_y = pixel_to_map(eo, tp.eo_px[:, 0] + tp.disp[:, 0], tp.eo_px[:, 1] + tp.disp[:, 1])
    components = np.round(tp.residual, RESIDUAL_DECIMALS)
    residual = np.hypot(components[:, 0], components[:, 1])  # of the components as written: the same when read back
    off, threshold = global_deviation(tp.eo_px, tp.disp, tp.used)
    for i in range(len(tp)):
        yield (i + 1, float(eo_x[i]), float(eo_y[i]), float(sar_x[i]), float(sar_y[i]), float(tp.disp[i, 0]),
               float(tp.disp[i, 1]), float(tp.score[i]), int(tp.inlier[i]), int(tp.enabled[i]),
               *(None if not np.isfinite(v) else round(float(v), RESIDUAL_DECIMALS)
                 for v in (residual[i], *components[i], off[i])),
               int(bool(off[i] > threshold)), None if not np.isfinite(tp.uncertainty[i]) else float(tp.uncertainty[i]))


def write_gpkg(path, tp: TiePoints, eo: RasterInfo, fallback_regions=None) -> None:
    """`fallback_regions`: the self-check's regions (report.json's, with `reason`, `eo_px` and `bounds`), written
    as a polygon layer; None (no self-check, e.g. tie points from a file) writes no such layer."""
    records = list(_records(tp, eo))
    con, srs_id = gpkg.create(path, eo.crs, "CRS of the EO raster")
    try:
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(POINT_FIELDS, _FIELD_TYPES))
        xs = [r[1] for r in records] + [r[3] for r in records] or [0.0]
        ys = [r[2] for r in records] + [r[4] for r in records] or [0.0]
        for table, geometry_type, description in (("tiepoints", "POINT", "SAR-EO tie points"),
                                                  ("links", "LINESTRING", "EO -> SAR links")):
            gpkg.add_layer(con, table, f"geom {geometry_type}, {columns}", geometry_type, srs_id, description,
                       (min(xs), min(ys), max(xs), max(ys)))
        if fallback_regions is not None:
            _write_regions(con, srs_id, fallback_regions)
        bind = ", ".join("?" * (len(POINT_FIELDS) + 1))
        con.executemany(
            f"INSERT INTO tiepoints (geom, {', '.join(POINT_FIELDS)}) VALUES ({bind})",
            [(gpkg.point_blob(srs_id, r[1], r[2]), *r) for r in records],
        )
        con.executemany(
            f"INSERT INTO links (geom, {', '.join(POINT_FIELDS)}) VALUES ({bind})",
            [(gpkg.line_blob(srs_id, [r[1], r[3]], [r[2], r[4]]), *r) for r in records],
        )
        con.commit()
    finally:
        con.close()


def _write_regions(con, srs_id, regions) -> None:
    boxes = np.array([r["bounds"] for r in regions], np.float64).reshape(-1, 4)
    extent = (*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)) if len(boxes) else (0.0, 0.0, 0.0, 0.0)
    gpkg.add_layer(con, "fallback_regions",
               "geom POLYGON, reason TEXT, eo_col0 DOUBLE, eo_row0 DOUBLE, eo_col1 DOUBLE, eo_row1 DOUBLE",
               "POLYGON", srs_id, "Regions that follow the global model (self-check)", extent)
    con.executemany(
        "INSERT INTO fallback_regions (geom, reason, eo_col0, eo_row0, eo_col1, eo_row1) VALUES (?, ?, ?, ?, ?, ?)",
        [(gpkg.polygon_blob(srs_id, [x0, x1, x1, x0], [y0, y0, y1, y1]), r["reason"], *map(float, r["eo_px"]))
         for r, (x0, y0, x1, y1) in zip(regions, boxes.tolist())])


_FIELD_TYPES = ("INTEGER", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "BOOLEAN",
                "BOOLEAN", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "BOOLEAN", "DOUBLE")

def _flag(value, default=True) -> bool:
    """A boolean cell as QGIS or a user may leave it: 1/0, 'true'/'false', 'yes'/'no', or NULL (default)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return default
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("1", "true", "t", "yes", "y"):
            return True
        if text in ("0", "false", "f", "no", "n", ""):
            return False
        raise ValueError(f"'{value}' is not a yes/no value")
    return bool(value)


def _number(value) -> float:
    """A numeric cell; NULL becomes NaN (refused later with the point's id)."""
    if value is None:
        return float("nan")
    if isinstance(value, str):
        value = value.strip()
    return float(value)


def _crs_or_none(text):
    """The CRS a tie-point file declares, or None when it declares none we can read (then not ours to judge)."""
    from rasterio.crs import CRS

    try:
        return CRS.from_user_input(text) if text else None
    except Exception:  # noqa: BLE001 (pyproj/rasterio raise several kinds for bad definitions)
        return None


def _gpkg_crs(con):
    row = con.execute("SELECT s.organization, s.organization_coordsys_id, s.definition FROM gpkg_geometry_columns g "
                      "JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id WHERE g.table_name = 'tiepoints'").fetchone()
    if row is None or row[2] in (None, "", "undefined"):
        return None
    return _crs_or_none(f"EPSG:{row[1]}" if str(row[0]).upper() == "EPSG" else row[2])


def read_gpkg(path, eo: RasterInfo) -> TiePoints:
    """Read the `tiepoints` layer (as written here, possibly edited in QGIS). SAR ends come from sar_x/sar_y."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            columns = {row[1] for row in con.execute("PRAGMA table_info(tiepoints)")}
            missing = [c for c in ("eo_x", "eo_y", "sar_x", "sar_y", "enabled") if c not in columns]
            if missing:
                raise CoregError(f"{path} has no tiepoints layer with a '{missing[0]}' field. Give a tiepoints.gpkg "
                                 "written by this tool.")
            extra = ", ".join(c if c in columns else "NULL" for c in ("residual_x", "residual_y"))
            rows = con.execute(f"SELECT fid, id, eo_x, eo_y, sar_x, sar_y, score, inlier, enabled, {extra} "
                               "FROM tiepoints ORDER BY id, fid").fetchall()
            crs = _gpkg_crs(con)
        finally:
            con.close()
    except sqlite3.Error as exc:
        raise CoregError(f"Cannot read tie points from {path} ({exc}). Give a tiepoints.gpkg written by this tool.") from None
    _check_crs(crs, eo, path)
    labels, values, flags = [], [], []
    for fid, pid, *numbers, inlier, enabled, rx, ry in rows:
        label = f"id {pid}" if pid is not None else f"feature {fid} (no id)"
        labels.append(label)
        try:
            values.append([_number(v) for v in (*numbers, rx, ry)])
            flags.append((_flag(inlier), _flag(enabled)))
        except ValueError as exc:
            raise CoregError(f"Tie point {label} in {path} has a bad value ({exc}). Fix it in the attribute table "
                             "(numbers for coordinates, 1/0 for inlier and enabled).") from None
    data = np.array(values, np.float64).reshape(-1, 7)
    flags = np.array(flags, bool).reshape(-1, 2)
    _refuse(~np.isfinite(data[:, :4]).all(axis=1), labels, path,
            "have no position (NULL or non-numeric eo_x, eo_y, sar_x or sar_y)",
            "Delete them, or set both ends of each link in the review panel.")
    eo_c, eo_r = map_to_pixel(eo, data[:, 0], data[:, 1])
    sar_c, sar_r = map_to_pixel(eo, data[:, 2], data[:, 3])
    score = np.nan_to_num(data[:, 4], nan=0.0)
    return TiePoints(np.c_[eo_c, eo_r], np.c_[sar_c - eo_c, sar_r - eo_r], score, flags[:, 0], flags[:, 1],
                     residual=data[:, 5:7], labels=labels)


def _check_crs(crs, eo: RasterInfo, path) -> None:
    if crs is None or crs == eo.crs or (crs.to_epsg() is not None and crs.to_epsg() == eo.crs.to_epsg()):
        return
    raise CoregError(f"The tie points in {path} are in {crs.to_string() or 'another CRS'}, the EO raster in "
                     f"{eo.crs.to_string()}. Save the layer in the EO raster's CRS, or give the rasters it was made for.")


def _refuse(bad: np.ndarray, labels, path, problem: str, advice: str) -> None:
    """One line naming the offending points (the first ten)."""
    if not bad.any():
        return
    names = [labels[i] for i in np.flatnonzero(bad)]
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    raise CoregError(f"{len(names)} of {len(labels)} tie points in {path} {problem}: {shown}. {advice}")


def check_on_rasters(tp: TiePoints, eo: RasterInfo, sar: RasterInfo, path) -> None:
    """Refuse enabled points whose EO or SAR end lies outside its raster: they belong to another scene."""
    from .geometry import eo_pixel_to_sar_pixel

    eo_c, eo_r = tp.eo_px[:, 0], tp.eo_px[:, 1]
    sar_c, sar_r = eo_pixel_to_sar_pixel(eo, sar, eo_c + tp.disp[:, 0], eo_r + tp.disp[:, 1])
    off_eo = (eo_c < -0.5) | (eo_c > eo.width - 0.5) | (eo_r < -0.5) | (eo_r > eo.height - 0.5)
    off_sar = ~np.isfinite(sar_c) | (sar_c < -0.5) | (sar_c > sar.width - 0.5) | (sar_r < -0.5) | (sar_r > sar.height - 0.5)
    advice = ("Check that the file was made for these EO and SAR rasters; disable or delete the points that lie "
              "outside.")
    _refuse(tp.enabled & off_eo, tp.labels, path, "lie outside the EO raster", advice)
    _refuse(tp.enabled & off_sar, tp.labels, path, "have their SAR end outside the SAR raster", advice)


# ---- SpaceNet 9 CSV ------------------------------------------------------------------------------
def write_csv(path, tp: TiePoints, eo: RasterInfo, sar: RasterInfo) -> None:
    """Write the tie points as a SpaceNet 9 CSV (SAR and optical row/col, score, inlier)."""
    sar_c, sar_r = _sar_pixels(tp, eo, sar)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_FIELDS)
        for i in range(len(tp)):
            writer.writerow([f"{sar_r[i]:.3f}", f"{sar_c[i]:.3f}", f"{tp.eo_px[i, 1]:.3f}", f"{tp.eo_px[i, 0]:.3f}",
                             f"{tp.score[i]:.4f}", int(tp.inlier[i] and tp.enabled[i])])


def read_csv(path, eo: RasterInfo, sar: RasterInfo) -> TiePoints:
    """SpaceNet 9 tie-point CSV (sar_row, sar_col, optical_row, optical_col [, score, inlier])."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:  # Excel's "CSV UTF-8" starts with a BOM
            rows = list(csv.DictReader(fh))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CoregError(f"{path} is not a readable CSV file ({exc}). Give a SpaceNet 9 tie-point CSV.") from None
    missing = [c for c in CSV_FIELDS[:4] if not rows or c not in rows[0]]
    if missing:
        raise CoregError(f"{path} is not a SpaceNet 9 tie-point CSV: column '{missing[0]}' is missing.")
    columns = ("optical_col", "optical_row", "sar_col", "sar_row", "score")
    values, flags = [], []
    for line, row in enumerate(rows, start=2):
        record = []
        for cell in (*columns, "inlier"):
            raw = row.get(cell)
            try:
                if cell == "inlier":
                    flags.append(_flag(raw))
                else:
                    record.append(_number(raw or ("1" if cell == "score" else None)))
            except ValueError:
                kind = "1/0 value" if cell == "inlier" else "number"
                raise CoregError(f"{path} line {line}: column {cell} holds '{raw}', which is not a {kind}. "
                                 "Fix or delete the line.") from None
        values.append(record)
    data = np.array(values, np.float64).reshape(-1, 5)
    labels = [f"line {i + 2}" for i in range(len(data))]
    _refuse(~np.isfinite(data[:, :4]).all(axis=1), labels, path, "have an empty or non-finite coordinate",
            "Fix or delete those lines.")
    eo_px = data[:, :2]
    sar_c, sar_r = sar_pixel_to_eo_pixel(eo, sar, data[:, 2], data[:, 3])
    inlier = np.array(flags, bool)
    return TiePoints(eo_px, np.c_[sar_c, sar_r] - eo_px, data[:, 4], inlier, inlier, labels=labels)


def _sar_pixels(tp, eo, sar):
    from .geometry import eo_pixel_to_sar_pixel

    return eo_pixel_to_sar_pixel(eo, sar, tp.eo_px[:, 0] + tp.disp[:, 0], tp.eo_px[:, 1] + tp.disp[:, 1])


# ---- QGIS Georeferencer .points --------------------------------------------------------------------
def write_points(path, tp: TiePoints, eo: RasterInfo, sar: RasterInfo) -> None:
    """mapX/mapY: EO map coordinates (the target); sourceX/sourceY: the same ground in the SAR's own
    georeference (the raster to georeference); dX/dY/residual: leave-one-out residual in EO pixels, empty where
    none was computed (points read from a SpaceNet 9 CSV, too few points): never a 0 that claims a perfect fit."""
    map_x, map_y = pixel_to_map(eo, tp.eo_px[:, 0], tp.eo_px[:, 1])
    sar_x, sar_y = reproject_xy(eo, sar, *pixel_to_map(eo, tp.eo_px[:, 0] + tp.disp[:, 0], tp.eo_px[:, 1] + tp.disp[:, 1]))
    with open(path, "w", newline="") as fh:
        fh.write(f"#CRS: {eo.crs.to_wkt()}\n")
        fh.write("mapX,mapY,sourceX,sourceY,enable,dX,dY,residual\n")
        for i in range(len(tp)):
            rx, ry = tp.residual[i]
            known = np.isfinite(rx) and np.isfinite(ry)
            residual = f"{rx:.4f},{ry:.4f},{np.hypot(rx, ry):.4f}" if known else ",,"
            fh.write(f"{map_x[i]:.6f},{map_y[i]:.6f},{sar_x[i]:.6f},{sar_y[i]:.6f},{int(tp.used[i])},{residual}\n")


def read_points(path, eo: RasterInfo, sar: RasterInfo) -> TiePoints:
    """A QGIS Georeferencer .points file: mapX,mapY,sourceX,sourceY,enable[,dX,dY,residual]."""
    rows, labels, crs = [], [], None
    try:
        with open(path, encoding="utf-8-sig") as fh:
            lines = list(fh)
    except UnicodeDecodeError:
        raise CoregError(f"{path} is not a text file. Give a QGIS Georeferencer .points file.") from None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if text.startswith("#CRS:"):
            crs = _crs_or_none(text[5:].strip())
        if text.startswith("#") or text.lower().startswith("mapx") or not text:
            continue
        cells = text.split(",")
        try:
            if len(cells) < 5:
                raise ValueError
            values = [float(v) for v in cells[:5]] + [float(v) if v.strip() else np.nan for v in cells[5:7]] + \
                [np.nan] * (7 - len(cells[:7]))
        except ValueError:
            raise CoregError(f"{path} line {number}: expected mapX,mapY,sourceX,sourceY,enable[,dX,dY,residual] "
                             f"numbers, got '{text[:60]}'. Fix or delete the line.") from None
        if not np.isfinite(values[:5]).all():
            raise CoregError(f"{path} line {number}: a coordinate is not finite ('{text[:60]}'). Fix or delete the line.")
        rows.append(values)
        labels.append(f"line {number}")
    if not rows:
        raise CoregError(f"{path} holds no tie points. Give a QGIS Georeferencer .points file.")
    _check_crs(crs, eo, path)
    data = np.array(rows)
    eo_c, eo_r = map_to_pixel(eo, data[:, 0], data[:, 1])
    sar_c, sar_r = map_to_pixel(eo, *reproject_xy(sar, eo, data[:, 2], data[:, 3]))
    enabled = data[:, 4] > 0
    return TiePoints(np.c_[eo_c, eo_r], np.c_[sar_c - eo_c, sar_r - eo_r], np.ones(len(data)), enabled, enabled,
                     residual=data[:, 5:7], labels=labels)


def _count_points(path: str, suffix: str) -> int:
    """How many points a file holds, without reading them into memory (data lines; the GeoPackage's rows)."""
    if suffix == ".gpkg":
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                return int(con.execute("SELECT COUNT(*) FROM tiepoints").fetchone()[0])
            finally:
                con.close()
        except sqlite3.Error:
            return 0  # not a tie-point GeoPackage: its reader says so
    count = 0
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            for line in fh:
                count += bool(line.strip()) and not line.lstrip().startswith("#")
    except OSError:
        return 0  # its reader says what is wrong
    return max(count - 1, 0)  # the header line


def read_any(path, eo: RasterInfo, sar: RasterInfo) -> TiePoints:
    """Any supported tie-point file, checked: every point has a position, enabled points lie on both rasters."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CoregError(f"Tie-point file not found: {path}.")
    if os.path.isdir(path):
        raise CoregError(f"The tie-point path is a folder: {path}. Give a .gpkg, .csv or .points file.")
    suffix = os.path.splitext(path)[1].lower()
    readers = {".gpkg": lambda: read_gpkg(path, eo), ".csv": lambda: read_csv(path, eo, sar),
               ".points": lambda: read_points(path, eo, sar)}
    if suffix not in readers:
        raise CoregError(f"Unknown tie-point file type '{suffix}'. Give a .gpkg, .csv or .points file.")
    count = _count_points(path, suffix)
    if count > MAX_TIEPOINTS:
        raise CoregError(f"{path} holds {count} tie points, more than the {MAX_TIEPOINTS} this tool reads (a fit "
                         "needs far fewer: thin the file, e.g. keep the most confident point per cell).")
    tp = readers[suffix]()
    check_on_rasters(tp, eo, sar, path)
    return tp
