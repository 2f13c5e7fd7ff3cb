"""A GeoPackage written with sqlite3 following the OGC GeoPackage 1.2 encoding (no GDAL vector driver needed in
the worker): the catalogue, feature tables, geometry blobs and a default QGIS style (`layer_styles`)."""

from __future__ import annotations

import os
import sqlite3
import struct


def _blob(srs_id: int, wkb: bytes, xs, ys) -> bytes:
    header = b"GP" + bytes([0, 0b00000011]) + struct.pack("<i", srs_id)
    return header + struct.pack("<4d", min(xs), max(xs), min(ys), max(ys)) + wkb


def point_blob(srs_id, x, y):
    """A GeoPackage geometry blob of one point (map units of `srs_id`)."""
    return _blob(srs_id, struct.pack("<BIdd", 1, 1, x, y), [x], [y])


def _coords(xs, ys) -> bytes:
    """WKB point list: count, then x y pairs."""
    return struct.pack("<I", len(xs)) + b"".join(struct.pack("<dd", x, y) for x, y in zip(xs, ys))


def line_blob(srs_id, xs, ys):
    """A GeoPackage geometry blob of a line string through (xs, ys)."""
    return _blob(srs_id, struct.pack("<BI", 1, 2) + _coords(xs, ys), xs, ys)


def polygon_blob(srs_id, xs, ys):
    """One ring through (xs, ys), closed here."""
    return _blob(srs_id, struct.pack("<BII", 1, 3, 1) + _coords([*xs, xs[0]], [*ys, ys[0]]), xs, ys)


def _srs(crs):
    epsg = crs.to_epsg()
    if epsg:
        return epsg, "EPSG", epsg
    return 100000, "NONE", 100000


def create(path, crs, description: str):
    """A new GeoPackage at `path` (replacing a file there) whose features are in `crs` (rasterio CRS):
    (open connection, srs_id). The caller adds layers, commits and closes."""
    if os.path.exists(path):
        os.remove(path)
    srs_id, org, org_id = _srs(crs)
    con = sqlite3.connect(path)
    con.execute("PRAGMA application_id = 1196444487")
    con.execute("PRAGMA user_version = 10200")
    con.executescript(_SCHEMA)
    con.execute("INSERT OR REPLACE INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
                (crs.to_string() or "CRS", srs_id, org, org_id, crs.to_wkt(), description))
    return con, srs_id


def add_layer(con, table, columns, geometry_type, srs_id, description, extent) -> None:
    """Create a feature table and register it in the GeoPackage's catalogue."""
    con.execute(f"CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT, {columns})")
    con.execute("INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)", (table, geometry_type, srs_id))
    con.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, min_x, min_y, max_x, max_y,"
                " srs_id) VALUES (?, 'features', ?, ?, ?, ?, ?, ?, ?)",
                (table, table, description, *map(float, extent), srs_id))


def add_default_style(con, table: str, name: str, qml: str) -> None:
    """Store `qml` as the table's default QGIS style: QGIS applies it when the layer is loaded."""
    con.execute("CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog "
                "TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), f_geometry_column TEXT(256), styleName "
                "TEXT(30), styleQML TEXT, styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui "
                "TEXT(30), update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))")
    con.execute("INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, styleName,"
                " styleQML, styleSLD, useAsDefault, description, owner, ui) VALUES ('', '', ?, 'geom', ?, ?, '', 1, "
                "?, '', '')", (table, name, qml, name))


_SCHEMA = """
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
