"""Tie points: the in-memory record, and reading/writing GeoPackage, SpaceNet 9 CSV and QGIS
Georeferencer .points files.

The GeoPackage is written with sqlite3 following the OGC GeoPackage 1.2 encoding (no GDAL vector
driver needed in the worker); QGIS and GDAL open it as two layers: `tiepoints` (points on the EO
position) and `links` (EO -> SAR lines).
"""

from __future__ import annotations

import csv
import os
import sqlite3
import struct
from dataclasses import dataclass, field

import numpy as np

from .errors import CoregError
from .geometry import map_to_pixel, pixel_to_map, reproject_xy, sar_pixel_to_eo_pixel
from .raster import RasterInfo

POINT_FIELDS = ("id", "eo_x", "eo_y", "sar_x", "sar_y", "dx", "dy", "score", "inlier", "enabled", "residual")
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

    def __post_init__(self):
        n = len(self.eo_px)
        self.eo_px = np.asarray(self.eo_px, np.float64).reshape(n, 2)
        self.disp = np.asarray(self.disp, np.float64).reshape(n, 2)
        self.score = np.asarray(self.score, np.float64)
        self.inlier = np.asarray(self.inlier, bool)
        self.enabled = self.inlier.copy() if self.enabled is None else np.asarray(self.enabled, bool)
        self.residual = np.full((n, 2), np.nan) if self.residual is None else np.asarray(self.residual, np.float64)

    def __len__(self):
        return len(self.eo_px)

    @property
    def residual_norm(self) -> np.ndarray:
        return np.hypot(self.residual[:, 0], self.residual[:, 1])

    @property
    def used(self) -> np.ndarray:
        """Points that enter the fit: enabled and inlier."""
        return self.enabled & self.inlier


# ---- GeoPackage ----------------------------------------------------------------------------------
def _gpkg_blob(srs_id: int, wkb: bytes, xs, ys) -> bytes:
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i", srs_id)
    return header + struct.pack("<4d", min(xs), max(xs), min(ys), max(ys)) + wkb


def _point_blob(srs_id, x, y):
    return _gpkg_blob(srs_id, struct.pack("<BIdd", 1, 1, x, y), [x], [y])


def _line_blob(srs_id, xs, ys):
    wkb = struct.pack("<BII", 1, 2, len(xs)) + b"".join(struct.pack("<dd", x, y) for x, y in zip(xs, ys))
    return _gpkg_blob(srs_id, wkb, xs, ys)


def _srs(info: RasterInfo):
    epsg = info.crs.to_epsg()
    if epsg:
        return epsg, "EPSG", epsg
    return 100000, "NONE", 100000


def _records(tp: TiePoints, eo: RasterInfo):
    eo_x, eo_y = pixel_to_map(eo, tp.eo_px[:, 0], tp.eo_px[:, 1])
    sar_x, sar_y = pixel_to_map(eo, tp.eo_px[:, 0] + tp.disp[:, 0], tp.eo_px[:, 1] + tp.disp[:, 1])
    residual = tp.residual_norm
    for i in range(len(tp)):
        yield (i + 1, float(eo_x[i]), float(eo_y[i]), float(sar_x[i]), float(sar_y[i]), float(tp.disp[i, 0]),
               float(tp.disp[i, 1]), float(tp.score[i]), int(tp.inlier[i]), int(tp.enabled[i]),
               None if not np.isfinite(residual[i]) else float(residual[i]))


def write_gpkg(path, tp: TiePoints, eo: RasterInfo) -> None:
    if os.path.exists(path):
        os.remove(path)
    srs_id, org, org_id = _srs(eo)
    records = list(_records(tp, eo))
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA application_id = 1196444487")
        con.execute("PRAGMA user_version = 10200")
        con.executescript(_GPKG_SCHEMA)
        con.execute(
            "INSERT OR REPLACE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
            (eo.crs.to_string() or "EO CRS", srs_id, org, org_id, eo.crs.to_wkt(), "CRS of the EO raster"),
        )
        columns = ", ".join(f"{name} {kind}" for name, kind in zip(POINT_FIELDS, _FIELD_TYPES))
        for table, geometry_type in (("tiepoints", "POINT"), ("links", "LINESTRING")):
            con.execute(f"CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {geometry_type}, {columns})")
            con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (table, geometry_type, srs_id))
            xs = [r[1] for r in records] + [r[3] for r in records] or [0.0]
            ys = [r[2] for r in records] + [r[4] for r in records] or [0.0]
            con.execute(
                "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y,"
                " srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)",
                (table, table, "SAR-EO tie points" if table == "tiepoints" else "EO -> SAR links",
                 min(xs), min(ys), max(xs), max(ys), srs_id),
            )
        bind = ", ".join("?" * (len(POINT_FIELDS) + 1))
        con.executemany(
            f"INSERT INTO tiepoints (geom, {', '.join(POINT_FIELDS)}) VALUES ({bind})",
            [(_point_blob(srs_id, r[1], r[2]), *r) for r in records],
        )
        con.executemany(
            f"INSERT INTO links (geom, {', '.join(POINT_FIELDS)}) VALUES ({bind})",
            [(_line_blob(srs_id, [r[1], r[3]], [r[2], r[4]]), *r) for r in records],
        )
        con.commit()
    finally:
        con.close()


_FIELD_TYPES = ("INTEGER", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "DOUBLE", "BOOLEAN",
                "BOOLEAN", "DOUBLE")

_GPKG_SCHEMA = """
CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', NULL);
INSERT INTO gpkg_spatial_ref_sys VALUES ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', NULL);
INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 geodetic', 4326, 'EPSG', 4326, 'GEOGCS["WGS 84",DATUM["WGS_1984",
  SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,
  AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AUTHORITY["EPSG","4326"]]',
  'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
CREATE TABLE gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '', last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""


def read_gpkg(path, eo: RasterInfo) -> TiePoints:
    """Read the `tiepoints` layer (as written here, possibly edited in QGIS). SAR ends come from sar_x/sar_y."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = con.execute("SELECT eo_x, eo_y, sar_x, sar_y, score, inlier, enabled FROM tiepoints ORDER BY id").fetchall()
        con.close()
    except sqlite3.Error as exc:
        raise CoregError(f"Cannot read tie points from {path} ({exc}). Give a tiepoints.gpkg written by this tool.") from None
    data = np.array(rows, dtype=np.float64).reshape(-1, 7)
    data = np.nan_to_num(data, nan=0.0)
    eo_c, eo_r = map_to_pixel(eo, data[:, 0], data[:, 1])
    sar_c, sar_r = map_to_pixel(eo, data[:, 2], data[:, 3])
    return TiePoints(np.c_[eo_c, eo_r], np.c_[sar_c - eo_c, sar_r - eo_r], data[:, 4], data[:, 5] > 0, data[:, 6] > 0)


# ---- SpaceNet 9 CSV ------------------------------------------------------------------------------
def write_csv(path, tp: TiePoints, eo: RasterInfo, sar: RasterInfo) -> None:
    sar_c, sar_r = _sar_pixels(tp, eo, sar)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_FIELDS)
        for i in range(len(tp)):
            writer.writerow([f"{sar_r[i]:.3f}", f"{sar_c[i]:.3f}", f"{tp.eo_px[i, 1]:.3f}", f"{tp.eo_px[i, 0]:.3f}",
                             f"{tp.score[i]:.4f}", int(tp.inlier[i] and tp.enabled[i])])


def read_csv(path, eo: RasterInfo, sar: RasterInfo) -> TiePoints:
    """SpaceNet 9 tie-point CSV (sar_row, sar_col, optical_row, optical_col [, score, inlier])."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in CSV_FIELDS[:4] if not rows or c not in rows[0]]
    if missing:
        raise CoregError(f"{path} is not a SpaceNet 9 tie-point CSV: column '{missing[0]}' is missing.")
    get = lambda key, default=None: np.array([float(r.get(key) or default) for r in rows])  # noqa: E731
    eo_px = np.c_[get("optical_col"), get("optical_row")]
    sar_c, sar_r = sar_pixel_to_eo_pixel(eo, sar, get("sar_col"), get("sar_row"))
    inlier = get("inlier", 1) > 0
    return TiePoints(eo_px, np.c_[sar_c, sar_r] - eo_px, get("score", 1.0), inlier, inlier)


def _sar_pixels(tp, eo, sar):
    from .geometry import eo_pixel_to_sar_pixel

    return eo_pixel_to_sar_pixel(eo, sar, tp.eo_px[:, 0] + tp.disp[:, 0], tp.eo_px[:, 1] + tp.disp[:, 1])


# ---- QGIS Georeferencer .points --------------------------------------------------------------------
def write_points(path, tp: TiePoints, eo: RasterInfo, sar: RasterInfo) -> None:
    """mapX/mapY: EO map coordinates (the target); sourceX/sourceY: the same ground in the SAR's own
    georeference (the raster to georeference); dX/dY/residual: leave-one-out residual in EO pixels."""
    map_x, map_y = pixel_to_map(eo, tp.eo_px[:, 0], tp.eo_px[:, 1])
    sar_x, sar_y = reproject_xy(eo, sar, *pixel_to_map(eo, tp.eo_px[:, 0] + tp.disp[:, 0], tp.eo_px[:, 1] + tp.disp[:, 1]))
    with open(path, "w", newline="") as fh:
        fh.write(f"#CRS: {eo.crs.to_wkt()}\n")
        fh.write("mapX,mapY,sourceX,sourceY,enable,dX,dY,residual\n")
        for i in range(len(tp)):
            rx, ry = np.nan_to_num(tp.residual[i])
            fh.write(f"{map_x[i]:.6f},{map_y[i]:.6f},{sar_x[i]:.6f},{sar_y[i]:.6f},{int(tp.used[i])},"
                     f"{rx:.4f},{ry:.4f},{np.hypot(rx, ry):.4f}\n")


def read_points(path, eo: RasterInfo, sar: RasterInfo) -> TiePoints:
    rows = []
    with open(path) as fh:
        for line in fh:
            if line.startswith("#") or line.lower().startswith("mapx") or not line.strip():
                continue
            rows.append([float(v) for v in line.strip().split(",")[:5]])
    if not rows:
        raise CoregError(f"{path} holds no tie points. Give a QGIS Georeferencer .points file.")
    data = np.array(rows)
    eo_c, eo_r = map_to_pixel(eo, data[:, 0], data[:, 1])
    sar_c, sar_r = map_to_pixel(eo, *reproject_xy(sar, eo, data[:, 2], data[:, 3]))
    enabled = data[:, 4] > 0
    return TiePoints(np.c_[eo_c, eo_r], np.c_[sar_c - eo_c, sar_r - eo_r], np.ones(len(data)), enabled, enabled)


def read_any(path, eo: RasterInfo, sar: RasterInfo) -> TiePoints:
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CoregError(f"Tie-point file not found: {path}.")
    suffix = os.path.splitext(path)[1].lower()
    readers = {".gpkg": lambda: read_gpkg(path, eo), ".csv": lambda: read_csv(path, eo, sar),
               ".points": lambda: read_points(path, eo, sar)}
    if suffix not in readers:
        raise CoregError(f"Unknown tie-point file type '{suffix}'. Give a .gpkg, .csv or .points file.")
    return readers[suffix]()
