"""Tie-point layers in QGIS: loading a run's outputs, styling, reading the analyst's edits, and writing
them back so that the engine's `apply` sees exactly what is on screen.

The GeoPackage holds two layers with the same `id`s: `tiepoints` (points at the EO position) and
`links` (EO -> SAR lines). EO positions come from the point geometries, SAR positions from the last
vertex of each link, so moving a link's end with the vertex tool moves the SAR end of that tie point.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Dict, Optional

import numpy as np
from qgis.core import (
    NULL,
    QgsFeatureRequest,
    QgsGeometry,
    QgsLayerTreeGroup,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRuleBasedRenderer,
    QgsSingleSymbolRenderer,
    QgsSymbol,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtGui import QColor

# residual classes (EO pixels) for the graduated colours of used points
RESIDUAL_CLASSES = ((0.0, 1.0, "#1a9641", "≤ 1 px"), (1.0, 2.0, "#a6d96a", "1–2 px"),
                    (2.0, 5.0, "#fdae61", "2–5 px"), (5.0, 1e9, "#d7191c", "> 5 px"))


@dataclass
class TiePointRows:
    """The tie points as the analyst sees them now (edit buffers included)."""

    ids: np.ndarray  # (N,) int
    eo_xy: np.ndarray  # (N, 2) EO map coordinates
    sar_xy: np.ndarray  # (N, 2) SAR map coordinates (EO CRS)
    enabled: np.ndarray  # (N,) bool
    score: np.ndarray  # (N,)
    point_fids: Dict[int, int]
    link_fids: Dict[int, int]

    def __len__(self):
        return len(self.ids)


def gpkg_layers(gpkg_path: str):
    """The `tiepoints` and `links` layers of a tie-point GeoPackage (not added to the project)."""
    points = QgsVectorLayer(f"{gpkg_path}|layername=tiepoints", "Tie points", "ogr")
    links = QgsVectorLayer(f"{gpkg_path}|layername=links", "Tie-point links (EO → SAR)", "ogr")
    if not points.isValid() or not links.isValid() or points.fields().indexOf("enabled") < 0:
        raise ValueError(f"{gpkg_path} is not a tie-point GeoPackage of this plugin (layers tiepoints and links).")
    return points, links


def source_path(layer) -> str:
    """The file behind a layer (without |layername=... options)."""
    return layer.dataProvider().dataSourceUri().split("|")[0]


def read_rows(points: QgsVectorLayer, links: QgsVectorLayer, strict: bool = False) -> TiePointRows:
    """The tie points both layers agree on. A point added without an id has no SAR end: skipped while
    reviewing, refused (ValueError, one line) when `strict` (before a fit is written)."""
    link_end, link_fids = {}, {}
    for feature in links.getFeatures():
        line = feature.geometry().asPolyline()
        if line and feature["id"] != NULL and feature["id"] is not None:
            link_end[int(feature["id"])] = (line[-1].x(), line[-1].y())
            link_fids[int(feature["id"])] = feature.id()
    ids, eo, sar, enabled, score, point_fids = [], [], [], [], [], {}
    for feature in points.getFeatures(QgsFeatureRequest().addOrderBy("id")):
        if feature["id"] is None or feature["id"] == NULL:
            if not strict:
                continue
            raise ValueError(f"The tie point added as feature {feature.id()} has no id and no link to a SAR position. "
                             "Delete it; to add a tie point, move an existing one or import a tie-point file.")
        pid = int(feature["id"])
        if pid not in link_end or feature.geometry().isEmpty():
            continue  # deleted in one of the two layers: deleted
        p = feature.geometry().asPoint()
        ids.append(pid)
        eo.append((p.x(), p.y()))
        sar.append(link_end[pid])
        enabled.append(bool(feature["enabled"]))
        score.append(0.0 if feature["score"] is None or feature["score"] == NULL else float(feature["score"]))
        point_fids[pid] = feature.id()
    return TiePointRows(np.array(ids, int), np.array(eo, float).reshape(-1, 2), np.array(sar, float).reshape(-1, 2),
                        np.array(enabled, bool), np.array(score, float), point_fids,
                        {k: v for k, v in link_fids.items() if k in point_fids})


def reopen_readers(layers) -> None:
    """After a direct write to the GeoPackage, reopen the other layers of the file: GDAL's read-only
    handles opened before the write (without locking) fail once the file has been written in WAL mode."""
    for layer in layers:
        if not layer.isEditable():
            layer.reload()


def set_enabled(layers, ids, value: bool) -> None:
    for layer in layers:
        index = layer.fields().indexOf("enabled")
        fids = [f.id() for f in layer.getFeatures(QgsFeatureRequest().setFilterExpression(
            f"id IN ({','.join(str(int(i)) for i in ids)})"))] if len(ids) else []
        if layer.isEditable():
            for fid in fids:
                layer.changeAttributeValue(fid, index, int(value))
        elif fids:
            layer.dataProvider().changeAttributeValues({fid: {index: int(value)} for fid in fids})  # one write
        layer.triggerRepaint()
    reopen_readers(layers)


def write_residuals(points: QgsVectorLayer, links: QgsVectorLayer, rows: TiePointRows, residual_px: np.ndarray
                    ) -> None:
    """Store the live residuals in the points layer (its colours follow); skipped while it is being edited."""
    if points.isEditable():
        return
    index = [points.fields().indexOf(name) for name in ("residual", "residual_x", "residual_y")]
    norm = np.hypot(residual_px[:, 0], residual_px[:, 1])
    values = np.c_[norm, residual_px]
    changes = {rows.point_fids[int(i)]: {k: (float(v) if np.isfinite(v) else None) for k, v in zip(index, row) if k >= 0}
               for i, row in zip(rows.ids, values)}
    points.dataProvider().changeAttributeValues(changes)
    points.triggerRepaint()
    reopen_readers([links])


def sync_layers(points: QgsVectorLayer, links: QgsVectorLayer, eo_to_pixel) -> int:
    """Save pending edits and make the file consistent with the geometries: eo_x/eo_y/sar_x/sar_y/dx/dy and
    link geometries follow the edited positions; a point deleted in one layer is deleted in the other.
    `eo_to_pixel(xy) -> (N, 2)` converts EO map coordinates. Returns the number of tie points kept."""
    for layer in (points, links):
        if layer.isEditable() and not layer.commitChanges():
            raise ValueError(f"Could not save the edits of '{layer.name()}': {'; '.join(layer.commitErrors())}")
    rows = read_rows(points, links, strict=True)
    px = eo_to_pixel(rows.eo_xy)
    sar_px = eo_to_pixel(rows.sar_xy)
    names = ("eo_x", "eo_y", "sar_x", "sar_y", "dx", "dy", "enabled")
    for layer, fids in ((points, rows.point_fids), (links, rows.link_fids)):
        index = {n: layer.fields().indexOf(n) for n in names}
        changes, geometries = {}, {}
        for k, pid in enumerate(rows.ids):
            values = (*rows.eo_xy[k], *rows.sar_xy[k], *(sar_px[k] - px[k]), int(rows.enabled[k]))
            changes[fids[int(pid)]] = {index[n]: float(v) for n, v in zip(names, values)}
            if layer is links:
                geometries[fids[int(pid)]] = QgsGeometry.fromPolylineXY(
                    [QgsPointXY(*rows.eo_xy[k]), QgsPointXY(*rows.sar_xy[k])])
        provider = layer.dataProvider()
        provider.changeAttributeValues(changes)
        if geometries:
            provider.changeGeometryValues(geometries)
        orphans = [f.id() for f in layer.getFeatures() if int(f["id"]) not in fids]
        if orphans:
            provider.deleteFeatures(orphans)
        layer.reload()
    return len(rows)


# ---- styling and loading -------------------------------------------------------------------------
def style_points(layer: QgsVectorLayer) -> None:
    """Used points coloured by residual (graduated classes), rejected or disabled points as grey crosses;
    labels (the id) are set up but off: Layer Labeling shows them on demand."""
    root = QgsRuleBasedRenderer.Rule(None)
    for lo, hi, colour, label in RESIDUAL_CLASSES:
        symbol = QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "outline_color": "#222222",
                                               "size": "2.6"})
        root.appendChild(QgsRuleBasedRenderer.Rule(
            symbol, filterExp=f'"enabled" AND "inlier" AND "residual" >= {lo} AND "residual" < {hi}',
            label=f"residual {label}"))
    unknown = QgsMarkerSymbol.createSimple({"name": "circle", "color": "#ffffff", "outline_color": "#222222",
                                            "size": "2.6"})
    root.appendChild(QgsRuleBasedRenderer.Rule(unknown, filterExp='"enabled" AND "inlier" AND "residual" IS NULL',
                                               label="residual not computable"))
    rejected = QgsMarkerSymbol.createSimple({"name": "cross2", "color": "#9e9e9e", "size": "2.6"})
    root.appendChild(QgsRuleBasedRenderer.Rule(rejected, filterExp='NOT "enabled" OR NOT "inlier"',
                                               label="disabled or rejected"))
    layer.setRenderer(QgsRuleBasedRenderer(root))
    settings = QgsPalLayerSettings()
    settings.fieldName = "id"
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(False)


def style_links(layer: QgsVectorLayer) -> None:
    symbol = QgsSymbol.defaultSymbol(layer.geometryType())
    symbol.setColor(QColor("#00b7eb"))
    symbol.setWidth(0.4)
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))


@dataclass
class RunLayers:
    group: QgsLayerTreeGroup
    points: QgsVectorLayer
    links: QgsVectorLayer
    aligned: Optional[QgsRasterLayer]


def add_run_layers(out_dir: str, group_name: str, project: Optional[QgsProject] = None) -> RunLayers:
    """Add a run's tie points, links and aligned SAR to a new top group. Call on the main thread only."""
    project = project or QgsProject.instance()
    points, links = gpkg_layers(os.path.join(out_dir, "tiepoints.gpkg"))
    style_points(points)
    style_links(links)
    group = project.layerTreeRoot().insertGroup(0, group_name)
    aligned = None
    for layer in (points, links):
        project.addMapLayer(layer, False)
        group.addLayer(layer)
    aligned_path = os.path.join(out_dir, "aligned_sar.tif")
    if os.path.exists(aligned_path):
        aligned = add_raster(group, aligned_path, "Aligned SAR", project)
    return RunLayers(group, points, links, aligned)


def add_raster(group: QgsLayerTreeGroup, path: str, name: str, project: Optional[QgsProject] = None):
    project = project or QgsProject.instance()
    layer = QgsRasterLayer(path, name)
    project.addMapLayer(layer, False)
    group.addLayer(layer)
    return layer
