"""The batch summary: batch.csv (one row per pair: verdict, RMSE, confidence, seconds, error) and batch.gpkg
(each SAR's footprint in WGS 84 with the same fields, styled by verdict when QGIS opens it). Both are written
whole or not at all."""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, fields
from typing import List, Optional, Tuple

import numpy as np

from ..core import gpkg
from .task import PairRow

COLUMNS = [f.name for f in fields(PairRow)]
EDGE_POINTS = 16  # points per footprint edge: straight in the SAR's CRS, curved in WGS 84
VERDICT_COLOURS = (("aligned", "Aligned", "26,150,65"), ("aligned_partly", "Partly aligned", "253,174,97"),
                   ("not_aligned", "NOT aligned", "215,25,28"), ("", "Failed or cancelled", "136,136,136"))


def _replace(path: str, write) -> None:
    temporary = path + ".partial"
    write(temporary)
    os.replace(temporary, path)


def write_csv(rows: List[PairRow], path: str) -> None:
    """batch.csv: the rows in the batch's order; empty cells where a figure does not exist."""
    def write(target):
        with open(target, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: ("" if v is None else round(v, 4) if isinstance(v, float) else v)
                                 for k, v in asdict(row).items()})

    _replace(path, write)


def footprint(sar_path: str, sar_crs: Optional[str] = None) -> Optional[Tuple[list, list]]:
    """The SAR raster's outline in WGS 84 (lon, lat lists), georeferenced as the engine reads it (GCPs, a CRS
    override), or None when it cannot be read."""
    from rasterio.warp import transform as reproject

    from ..core.raster import open_info

    try:
        info = open_info(sar_path, "SAR", sar_crs)
        t = np.linspace(0.0, 1.0, EDGE_POINTS, endpoint=False)
        w, h = info.width, info.height
        cols = np.concatenate([t * w, np.full_like(t, w), (1 - t) * w, np.zeros_like(t)])
        rows = np.concatenate([np.zeros_like(t), t * h, np.full_like(t, h), (1 - t) * h])
        xs, ys = info.transform * (cols, rows)
        lon, lat = reproject(info.crs, "EPSG:4326", list(xs), list(ys))
    except Exception:  # noqa: BLE001 (no footprint is a missing shape, not a failed batch)
        return None
    if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
        return None
    return list(lon), list(lat)


def _style_qml() -> str:
    """A QGIS style: footprints filled by verdict, half transparent, labelled with the pair's name."""
    categories = "".join(f'<category symbol="{k}" value="{value}" label="{label}" render="true"/>'
                         for k, (value, label, _) in enumerate(VERDICT_COLOURS))
    symbols = "".join(
        f'<symbol type="fill" name="{k}" alpha="0.45" clip_to_extent="1" force_rhr="0"><layer class="SimpleFill" '
        f'pass="0" locked="0" enabled="1"><prop k="color" v="{rgb},255"/><prop k="outline_color" v="{rgb},255"/>'
        '<prop k="outline_width" v="0.6"/><prop k="outline_width_unit" v="MM"/><prop k="style" v="solid"/>'
        '<prop k="outline_style" v="solid"/></layer></symbol>'
        for k, (_, _, rgb) in enumerate(VERDICT_COLOURS))
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'><qgis version=\"3.22.0\" "
            "styleCategories=\"Symbology|Labeling\" labelsEnabled=\"1\"><renderer-v2 type=\"categorizedSymbol\" "
            "attr=\"coalesce(&quot;verdict&quot;, '')\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\">"
            f"<categories>{categories}</categories><symbols>{symbols}</symbols></renderer-v2>"
            "<labeling type=\"simple\"><settings calloutType=\"simple\"><text-style fieldName=\"pair\" fontSize=\"9\" "
            "textColor=\"0,0,0,255\" isExpression=\"0\"><text-buffer bufferDraw=\"1\" bufferSize=\"0.8\" "
            "bufferColor=\"255,255,255,255\"/></text-style><placement placement=\"1\"/></settings></labeling></qgis>")


def write_gpkg(rows: List[PairRow], path: str, footprints: List[Optional[Tuple[list, list]]]) -> None:
    """batch.gpkg, layer `pairs`: each pair's SAR footprint (none where it could not be read) and its row."""
    from rasterio.crs import CRS

    shapes = [f for f in footprints if f is not None]
    lon = [x for f in shapes for x in f[0]] or [0.0]
    lat = [y for f in shapes for y in f[1]] or [0.0]
    kinds = {"pair": "TEXT", "status": "TEXT", "eo": "TEXT", "sar": "TEXT", "out_dir": "TEXT", "verdict": "TEXT",
             "error": "TEXT"}
    columns = ", ".join(f"{name} {kinds.get(name, 'DOUBLE')}" for name in COLUMNS)

    def write(target):
        con, srs_id = gpkg.create(target, CRS.from_epsg(4326), "WGS 84")
        try:
            gpkg.add_layer(con, "pairs", f"geom POLYGON, {columns}", "POLYGON", srs_id, "SAR footprints of a batch",
                           (min(lon), min(lat), max(lon), max(lat)))
            con.executemany(f"INSERT INTO pairs (geom, {', '.join(COLUMNS)}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})",
                            [(None if f is None else gpkg.polygon_blob(srs_id, *f), *asdict(row).values())
                             for row, f in zip(rows, footprints)])
            gpkg.add_default_style(con, "pairs", "verdict", _style_qml())
            con.commit()
        finally:
            con.close()

    _replace(path, write)
