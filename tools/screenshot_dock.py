"""Screenshots of real QGIS with the dock after a run, for docs/dock.png (the default post-run state, untidied)
and docs/dock_compare.png (the swipe comparison of the aligned SAR over the EO). Run through `make screenshot`:

    xvfb-run -s "-screen 0 1600x1000x24" qgis --nologo --noversioncheck --profiles-path TMP --code tools/screenshot_dock.py

Environment: SHOT_EO, SHOT_SAR (rasters; default the real airport pair in ../shared/data/real), SHOT_OUT
(the PNG), SAR_EO_COREG_PYTHON (the worker Python). QGIS quits when the picture is saved.
"""

import os
import sys
import tempfile
from pathlib import Path

from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QApplication
from qgis.utils import iface

REPO = Path(os.environ.get("SHOT_REPO", os.getcwd())).resolve()
sys.path.insert(0, str(REPO))
import sar_eo_coreg  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "real"
EO = os.environ.get("SHOT_EO", str(DATA / "worldview_pan_airport_eo.tif"))
SAR = os.environ.get("SHOT_SAR", str(DATA / "gf3_spotlight_airport_sar.tif"))
OUT = os.environ.get("SHOT_OUT", str(REPO / "docs" / "dock.png"))

window = iface.mainWindow()
window.resize(1600, 1000)
plugin = sar_eo_coreg.classFactory(iface)
plugin.initGui()
project = QgsProject.instance()
eo = QgsRasterLayer(EO, "WorldView pan (EO)")
sar = QgsRasterLayer(SAR, "GF-3 spotlight (SAR)")
project.addMapLayer(sar)
project.addMapLayer(eo)
project.setCrs(eo.crs())
dock = plugin.dock
plugin.action.setChecked(True)
dock.eo_combo.setLayer(eo)
dock.sar_combo.setLayer(sar)
dock.output.setFilePath(tempfile.mkdtemp(prefix="sar_eo_coreg_shot_"))
dock.start_coregistration()


def when_done():
    if dock.task is not None:
        QTimer.singleShot(500, when_done)
        return
    if dock.run is None:
        print("screenshot: the run failed:", dock.status.text(), file=sys.stderr)
        QApplication.exit(1)
        return
    review = dock.review
    canvas = iface.mapCanvas()
    extent = dock.run.layers.points.extent()
    extent.scale(1.08)
    canvas.setExtent(extent)
    canvas.refresh()
    review.table.selectRow(0)
    QTimer.singleShot(4000, lambda: save(OUT, compare))


def compare():
    """The same view with the swipe: the aligned SAR left of the line, the map (EO) right of it."""
    dock.tabs.setCurrentIndex(1)
    dock.compare_mode.setCurrentIndex(dock.compare_mode.findData("swipe"))
    dock.compare_slider.setValue(50)
    QTimer.singleShot(4000, lambda: save(OUT.replace(".png", "_compare.png"), lambda: QApplication.exit(0)))


def save(path, then):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    window.grab().save(path)
    print(f"screenshot: saved {path}")
    then()


QTimer.singleShot(1000, when_done)
