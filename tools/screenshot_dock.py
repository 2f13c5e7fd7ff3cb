"""Screenshots of real QGIS with the dock (420 px wide) after three runs, untidied, as an analyst sees them:

- docs/dock.png: the real airport pair (GF-3 / WorldView, ../shared/data/real), partly aligned, with the
  default swipe of the aligned SAR over the EO and the first tie point's linked chips, zoomed to 2×;
- docs/dock_aligned.png: the S1/S2 fixture, aligned;
- docs/dock_not_aligned.png: the S1/S2 fixture's EO against other ground (the airport SAR claiming its place).

Run through `make screenshot`:

    xvfb-run -s "-screen 0 1600x1000x24" qgis --nologo --noversioncheck --profiles-path TMP --code tools/screenshot_dock.py

Environment: SHOT_DOCS (the folder, default docs/), SAR_EO_COREG_PYTHON (the worker Python). QGIS quits when the
pictures are saved.
"""

import os
import sys
import tempfile
from pathlib import Path

from osgeo import gdal
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import QApplication
from qgis.utils import iface

REPO = Path(os.environ.get("SHOT_REPO", os.getcwd())).resolve()
sys.path.insert(0, str(REPO))
import sar_eo_coreg  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "real"
FIXTURES = REPO / "tests" / "data"
DOCS = Path(os.environ.get("SHOT_DOCS", REPO / "docs"))
WORK = Path(tempfile.mkdtemp(prefix="sar_eo_coreg_shot_"))


def unrelated_sar() -> str:
    """The airport SAR, georeferenced onto the S1/S2 fixture's ground: a pair that must not align."""
    eo = gdal.Open(str(FIXTURES / "s1s2_eo.tif"))
    a = eo.GetGeoTransform()
    bounds = (a[0], a[3] + a[5] * eo.RasterYSize, a[0] + a[1] * eo.RasterXSize, a[3])
    path = WORK / "unrelated_sar.tif"
    gdal.Translate(str(path), str(FIXTURES / "airport_sar.tif"), width=512, height=512, outputBounds=bounds,
                   outputSRS=eo.GetProjection())
    return str(path)


RUNS = [  # (EO, SAR, layer names, search radius m, picture)
    (str(REAL / "worldview_pan_airport_eo.tif"), str(REAL / "gf3_spotlight_airport_sar.tif"),
     ("WorldView pan (EO)", "GF-3 spotlight (SAR)"), 150, "dock.png"),
    (str(FIXTURES / "s1s2_eo.tif"), str(FIXTURES / "s1s2_sar.tif"), ("Sentinel-2 (EO)", "Sentinel-1 VH (SAR)"), 0,
     "dock_aligned.png"),
    (str(FIXTURES / "s1s2_eo.tif"), None, ("Sentinel-2 (EO)", "other ground (SAR)"), 0, "dock_not_aligned.png"),
]

window = iface.mainWindow()
window.resize(1600, 1000)
plugin = sar_eo_coreg.classFactory(iface)
plugin.initGui()
project = QgsProject.instance()
dock = plugin.dock
plugin.action.setChecked(True)
window.resizeDocks([dock], [420], Qt.Orientation.Horizontal)
dock.output.setFilePath(str(WORK))
queue = list(RUNS)


def next_run():
    if not queue:
        QApplication.exit(0)
        return
    eo_path, sar_path, (eo_name, sar_name), radius, picture = queue.pop(0)
    for layer in list(project.mapLayers().values()):
        if layer.type() == layer.RasterLayer and not layer.source().startswith(str(WORK)):
            project.removeMapLayer(layer.id())  # the previous run's inputs
    eo = QgsRasterLayer(eo_path, eo_name)
    sar = QgsRasterLayer(sar_path or unrelated_sar(), sar_name)
    root = project.layerTreeRoot()
    for layer in (eo, sar):  # at the bottom of the tree, not into the last run's group
        project.addMapLayer(layer, False)
        root.addLayer(layer)
    project.setCrs(eo.crs())
    iface.mapCanvas().setDestinationCrs(eo.crs())
    dock.eo_combo.setLayer(eo)
    dock.sar_combo.setLayer(sar)
    dock.radius.setValue(radius)
    dock.start_coregistration()
    QTimer.singleShot(1000, lambda: when_done(picture))


def when_done(picture):
    if dock.task is not None:
        QTimer.singleShot(500, lambda: when_done(picture))
        return
    if dock.run is None:
        print("screenshot: the run failed:", dock.status.text(), file=sys.stderr)
        QApplication.exit(1)
        return
    if dock.review.table.rowCount():
        dock.review.table.selectRow(0)
        if picture == "dock.png":
            dock.review.chips.zoom_by(1)
    QTimer.singleShot(5000, lambda: save(DOCS / picture))


def save(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    print(f"screenshot: saved {path}")
    next_run()


QTimer.singleShot(1000, next_run)
