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
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsCoordinateReferenceSystem,
    QgsFeatureRequest,
    QgsFillSymbol,
    QgsGeometry,
    QgsLayerTreeGroup,
    QgsMarkerLineSymbolLayer,
    QgsMarkerSymbol,
    QgsPalLayerSettings,
    QgsPointXY,
    QgsProject,
    QgsProperty,
    QgsRasterLayer,
    QgsRasterShader,
    QgsRuleBasedRenderer,
    QgsSingleBandGrayRenderer,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsSymbol,
    QgsVectorLayer,
    QgsVectorLayerSimpleLabeling,
)
from qgis.PyQt.QtGui import QColor

from ..core.outputs import ALIGNED_FILE, CONFIDENCE_FILE, TIEPOINTS_GPKG
from ..core.residual_report import RESIDUAL_CLASSES

USED_RULE = '"enabled" AND NOT coalesce("suspect", 0)'
SUSPECT_RULE = '"enabled" AND coalesce("suspect", 0)'



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


def crs_args(layer, role: str) -> list:
    """`--eo-crs CRS` (role "eo") or `--sar-crs CRS` when the layer's CRS, as set in QGIS, is not its file's own:
    the engine then uses the CRS the analyst sees."""
    from osgeo import gdal

    crs = layer.crs()
    if not crs.isValid():
        return []
    dataset = gdal.Open(source_path(layer))
    wkt = dataset.GetProjection() if dataset is not None else ""
    if wkt and QgsCoordinateReferenceSystem.fromWkt(wkt) == crs:
        return []
    authid = crs.authid()
    return [f"--{role}-crs", authid if authid.upper().startswith("EPSG:") else crs.toWkt(
        QgsCoordinateReferenceSystem.WKT_PREFERRED)]


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
    """Enable or disable the tie points `ids` in both layers (their edit buffers when edited)."""
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


def write_review_fields(points: QgsVectorLayer, links: QgsVectorLayer, rows: TiePointRows, residual_px: np.ndarray,
                        off_global: np.ndarray, suspect: np.ndarray) -> None:
    """Store the live residuals, the deviation from the global model and the suspect flag in the layers (their
    symbols follow); skipped while a layer is being edited."""
    norm = np.hypot(residual_px[:, 0], residual_px[:, 1])
    values = np.c_[norm, residual_px, off_global, suspect]
    for layer, fids, names in ((points, rows.point_fids, ("residual", "residual_x", "residual_y", "off_global",
                                                           "suspect")),
                               (links, rows.link_fids, ("off_global", "suspect"))):
        if layer.isEditable():
            continue
        index = [layer.fields().indexOf(name) for name in names]
        picked = values[:, -len(names):]
        changes = {fids[int(i)]: {k: (_cell(v, name) if np.isfinite(v) else None)
                                  for k, v, name in zip(index, row, names) if k >= 0}
                   for i, row in zip(rows.ids, picked) if int(i) in fids}
        layer.dataProvider().changeAttributeValues(changes)
        layer.triggerRepaint()
    reopen_readers([links, points])


def _cell(value, name):
    return int(value) if name == "suspect" else float(value)


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
def _circle(colour: str, size="2.6", outline="#ffffff"):
    return QgsMarkerSymbol.createSimple({"name": "circle", "color": colour, "outline_color": outline,
                                         "outline_width": "0.3", "size": size})


def style_points(layer: QgsVectorLayer) -> None:
    """What a point is worth, at a glance: enabled points off the robust global model are red triangles
    ("suspect"), other enabled points are coloured by residual and sized by confidence; points the engine
    rejected are grey crosses, points you disabled hollow grey circles. White outlines stay visible on dark
    rasters. Labels (the id) are set up but off: Layer Labeling shows them on demand."""
    root = QgsRuleBasedRenderer.Rule(None)
    suspect = QgsMarkerSymbol.createSimple({"name": "triangle", "color": "#ff1744", "outline_color": "#ffffff",
                                            "outline_width": "0.4", "size": "4.2"})
    root.appendChild(QgsRuleBasedRenderer.Rule(suspect, filterExp=SUSPECT_RULE,
                                               label="suspect: off the global model (check or disable)"))
    by_confidence = QgsProperty.fromExpression('scale_linear(coalesce("score", 0), 0, 0.3, 1.8, 3.6)')
    for lo, hi, colour, label in RESIDUAL_CLASSES:
        symbol = _circle(colour)
        symbol.setDataDefinedSize(by_confidence)
        root.appendChild(QgsRuleBasedRenderer.Rule(
            symbol, filterExp=f'{USED_RULE} AND "residual" >= {lo} AND "residual" < {hi}', label=f"residual {label}"))
    root.appendChild(QgsRuleBasedRenderer.Rule(_circle("#e0e0e0", outline="#222222"),
                                               filterExp=f'{USED_RULE} AND "residual" IS NULL',
                                               label="residual not computable"))
    rejected = QgsMarkerSymbol.createSimple({"name": "cross2", "color": "#bdbdbd", "outline_color": "#bdbdbd",
                                             "size": "2.6"})
    root.appendChild(QgsRuleBasedRenderer.Rule(rejected, filterExp='NOT "enabled" AND NOT "inlier"',
                                               label="rejected by the engine"))
    disabled = QgsMarkerSymbol.createSimple({"name": "circle", "color": "0,0,0,0", "outline_color": "#bdbdbd",
                                             "outline_width": "0.5", "size": "2.6"})
    root.appendChild(QgsRuleBasedRenderer.Rule(disabled, filterExp='NOT "enabled" AND "inlier"',
                                               label="disabled by you"))
    layer.setRenderer(QgsRuleBasedRenderer(root))
    settings = QgsPalLayerSettings()
    settings.fieldName = "id"
    settings.setFormat(_label_format())
    layer.setLabeling(QgsVectorLayerSimpleLabeling(settings))
    layer.setLabelsEnabled(False)


def _label_format():
    from qgis.core import QgsTextBufferSettings, QgsTextFormat

    text = QgsTextFormat()
    text.setColor(QColor("#000000"))
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setColor(QColor("#ffffff"))
    text.setBuffer(buffer)
    return text


def style_links(layer: QgsVectorLayer) -> None:
    """Links of enabled points with an arrowhead at the SAR end (red when suspect); disabled ones dimmed."""
    root = QgsRuleBasedRenderer.Rule(None)
    for colour, rule, label in (("#ff1744", SUSPECT_RULE, "suspect"),
                                ("#00b7eb", USED_RULE, "enabled"),
                                ("#9e9e9e", 'NOT "enabled"', "disabled or rejected")):
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        symbol.setColor(QColor(colour))
        symbol.setWidth(0.4 if label != "disabled or rejected" else 0.2)
        if label == "disabled or rejected":
            symbol.setOpacity(0.5)
        else:
            head = QgsMarkerLineSymbolLayer(True)
            head.setPlacement(QgsMarkerLineSymbolLayer.LastVertex)
            head.setSubSymbol(QgsMarkerSymbol.createSimple({"name": "arrowhead", "color": colour,
                                                            "outline_color": colour, "size": "2.4", "angle": "0"}))
            symbol.appendSymbolLayer(head)
        root.appendChild(QgsRuleBasedRenderer.Rule(symbol, filterExp=rule, label=label))
    layer.setRenderer(QgsRuleBasedRenderer(root))


@dataclass
class RunLayers:
    """A run's layers in QGIS: its group, the tie points, the links and the fallback regions."""
    group: QgsLayerTreeGroup
    points: QgsVectorLayer
    links: QgsVectorLayer
    aligned: Optional[QgsRasterLayer]
    fallback: Optional[QgsVectorLayer] = None  # the self-check's regions that follow the global model


def fallback_layer(gpkg_path: str) -> Optional[QgsVectorLayer]:
    """The self-check's `fallback_regions` layer, styled; None where the run has none (or no region fell back)."""
    layer = QgsVectorLayer(f"{gpkg_path}|layername=fallback_regions", "Follows the global model (self-check)", "ogr")
    if not layer.isValid() or layer.featureCount() == 0:
        return None
    style_fallback(layer)
    return layer


def style_fallback(layer: QgsVectorLayer) -> None:
    """Dashed orange outlines over a faint fill."""
    layer.setRenderer(QgsSingleSymbolRenderer(QgsFillSymbol.createSimple(
        {"color": "255,127,0,40", "outline_color": "#e66101", "outline_style": "dash", "outline_width": "0.5"})))


def add_run_layers(out_dir: str, group_name: str, project: Optional[QgsProject] = None) -> RunLayers:
    """Add a run's tie points, links, fallback regions and aligned SAR to a new top group. Main thread only."""
    project = project or QgsProject.instance()
    gpkg = os.path.join(out_dir, TIEPOINTS_GPKG)
    points, links = gpkg_layers(gpkg)
    style_points(points)
    style_links(links)
    group = project.layerTreeRoot().insertGroup(0, group_name)
    aligned, fallback = None, fallback_layer(gpkg)
    for layer in (points, links, fallback):
        if layer is not None:
            project.addMapLayer(layer, False)
            group.addLayer(layer)
    aligned_path = os.path.join(out_dir, ALIGNED_FILE)
    if os.path.exists(aligned_path):
        aligned = add_raster(group, aligned_path, "Aligned SAR", project)
        style_aligned(aligned)
    confidence_path = os.path.join(out_dir, CONFIDENCE_FILE)
    if os.path.exists(confidence_path):
        confidence = add_raster(group, confidence_path, "Confidence: P(offset within 3 px)", project)
        style_confidence(confidence)
        group.findLayer(confidence.id()).setItemVisibilityChecked(False)
    return RunLayers(group, points, links, aligned, fallback)


def style_aligned(layer: QgsRasterLayer) -> None:
    """A 2-98 % stretch (SAR is dark in a linear min-max stretch) at 60 % opacity: the EO shows through."""
    stretch_to(layer, *sar_stretch(layer))
    layer.renderer().setOpacity(0.6)


def sar_stretch(layer: QgsRasterLayer):
    """The 2-98 % cumulative cut of a SAR layer's first band (min, max), for one stretch shared by the input and
    the aligned SAR, so that "before" and "after" read alike."""
    lo, hi = layer.dataProvider().cumulativeCut(1, 0.02, 0.98, layer.extent(), 250000)
    return float(lo), float(hi) if hi > lo else float(lo) + 1.0


def stretch_to(layer: QgsRasterLayer, lo: float, hi: float) -> None:
    """Grey, linear between lo and hi (band 1)."""
    provider = layer.dataProvider()
    renderer = QgsSingleBandGrayRenderer(provider, 1)
    enhancement = QgsContrastEnhancement(provider.dataType(1))
    enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
    enhancement.setMinimumValue(lo)
    enhancement.setMaximumValue(hi)
    renderer.setContrastEnhancement(enhancement)
    layer.setRenderer(renderer)
    layer.triggerRepaint()


def style_confidence(layer: QgsRasterLayer) -> None:
    """The calibrated probability that the offset is within 3 EO px: red (no) through yellow (even odds) to green
    (sure), with its legend in the layer tree."""
    ramp = QgsColorRampShader(0.0, 1.0)
    ramp.setColorRampType(QgsColorRampShader.Interpolated)
    ramp.setColorRampItemList([QgsColorRampShader.ColorRampItem(v, QColor(c), label) for v, c, label in
                               ((0.0, "#d7191c", "0: unsupported"), (0.5, "#ffffbf", "0.5: even odds"),
                                (0.9, "#a6d96a", "0.9"), (1.0, "#1a9641", "1: within 3 px"))])
    shader = QgsRasterShader()
    shader.setRasterShaderFunction(ramp)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(0.0)
    renderer.setClassificationMax(1.0)
    renderer.setOpacity(0.7)
    layer.setRenderer(renderer)


def add_raster(group: QgsLayerTreeGroup, path: str, name: str, project: Optional[QgsProject] = None):
    """Load a raster of a run into its group; None when the file is not there."""
    project = project or QgsProject.instance()
    layer = QgsRasterLayer(path, name)
    project.addMapLayer(layer, False)
    group.addLayer(layer)
    return layer
