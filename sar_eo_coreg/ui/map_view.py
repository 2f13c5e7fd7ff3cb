"""What the map shows after a run: earlier runs' groups hidden, the view on the overlap or on given features."""

from __future__ import annotations

from qgis.core import QgsCoordinateTransform, QgsLayerTreeGroup, QgsProject

RUN_GROUP = "sar_eo_coreg/run"  # custom property of the layer-tree groups of this plugin's runs


def hide_earlier_runs(current) -> None:
    """Hide and fold the groups of this plugin's earlier runs; mark `current` (a group, or None) as a run's."""
    for group in QgsProject.instance().layerTreeRoot().children():
        if isinstance(group, QgsLayerTreeGroup) and group is not current and group.customProperty(RUN_GROUP):
            group.setItemVisibilityChecked(False)
            group.setExpanded(False)
    if current is not None:
        current.setCustomProperty(RUN_GROUP, True)


def zoom_to(canvas, rect, crs) -> None:
    """Show `rect` (in `crs`) on the canvas, whatever the canvas's CRS."""
    to_canvas = QgsCoordinateTransform(crs, canvas.mapSettings().destinationCrs(), QgsProject.instance())
    canvas.setExtent(to_canvas.transformBoundingBox(rect))
    canvas.refresh()


def zoom_to_overlap(canvas, eo, sar) -> None:
    """Show where the EO and SAR layers overlap (nothing when one is missing or they do not)."""
    if eo is None or sar is None:
        return
    to_eo = QgsCoordinateTransform(sar.crs(), eo.crs(), QgsProject.instance())
    overlap = eo.extent().intersect(to_eo.transformBoundingBox(sar.extent()))
    if not overlap.isEmpty():
        zoom_to(canvas, overlap, eo.crs())


def zoom_to_features(canvas, layer) -> None:
    """Show a vector layer's features with a margin (nothing when it has none)."""
    if layer is not None and layer.featureCount():
        layer.updateExtents()
        rect = layer.extent()
        rect.scale(1.2)
        zoom_to(canvas, rect, layer.crs())
