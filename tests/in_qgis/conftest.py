"""QGIS test helpers: pytest-qgis's iface, completed with real Qt menus, toolbars and docks; the worker
Python (this test interpreter, which has the engine's requirements); a clean project, the dock, the Processing
provider; the S1/S2 fixture as layers; waiting for background tasks."""

import sys
import time

import pytest
from qgis.core import QgsProject, QgsRasterLayer
from qgis.PyQt.QtWidgets import QMainWindow, QMenu, QToolBar


class IfaceWithRasterMenu:
    """Gives the pytest-qgis iface the raster menu, toolbar and dock calls that QgisApp has."""

    def __init__(self, iface):
        self._iface = iface
        self.window: QMainWindow = iface.mainWindow()
        self.raster_menu = QMenu("&Raster", self.window)
        self.window.menuBar().addMenu(self.raster_menu)
        self.raster_toolbar = QToolBar("Raster Toolbar", self.window)
        self.window.addToolBar(self.raster_toolbar)

    def __getattr__(self, name):
        return getattr(self._iface, name)

    def _submenu(self, name):
        for action in self.raster_menu.actions():
            if action.menu() is not None and action.text() == name:
                return action.menu()
        return None

    def addPluginToRasterMenu(self, name, action):  # noqa: N802
        menu = self._submenu(name) or self.raster_menu.addMenu(name)
        menu.addAction(action)

    def removePluginRasterMenu(self, name, action):  # noqa: N802
        menu = self._submenu(name)
        if menu is not None:
            menu.removeAction(action)
            if not menu.actions():
                self.raster_menu.removeAction(menu.menuAction())

    def addRasterToolBarIcon(self, action):  # noqa: N802
        self.raster_toolbar.addAction(action)

    def removeRasterToolBarIcon(self, action):  # noqa: N802
        self.raster_toolbar.removeAction(action)

    def addDockWidget(self, area, dock):  # noqa: N802
        self.window.addDockWidget(area, dock)

    def removeDockWidget(self, dock):  # noqa: N802
        self.window.removeDockWidget(dock)


@pytest.fixture()
def iface(qgis_iface):
    return IfaceWithRasterMenu(qgis_iface)


@pytest.fixture(autouse=True)
def worker_python(monkeypatch):
    """The plugin's worker runs on this interpreter, as a user's would on the one set in the settings."""
    monkeypatch.setenv("SAR_EO_COREG_PYTHON", sys.executable)
    return sys.executable


def wait_until(qgis_app, predicate, timeout=300.0):
    """Process Qt events (task signals, finished callbacks) until predicate() holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qgis_app.processEvents()
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture()
def project(qgis_new_project):
    project = QgsProject.instance()
    yield project
    project.removeAllMapLayers()
    project.layerTreeRoot().removeAllChildren()


@pytest.fixture()
def dock(iface, qgis_app, project):
    from qgis.core import QgsSettings

    from sar_eo_coreg.ui.dock import CoregDock

    QgsSettings().remove(CoregDock.OPTIONS_KEY.rstrip("/"))  # each test starts from the defaults
    dock = CoregDock(iface)
    yield dock
    QgsSettings().remove(CoregDock.OPTIONS_KEY.rstrip("/"))
    if dock.task is not None:
        dock.cancel()
        wait_until(qgis_app, lambda: dock.task is None, 30)
    dock.shutdown()  # as the plugin's unload does
    dock.setParent(None)
    dock.deleteLater()
    qgis_app.processEvents()


@pytest.fixture()
def provider(iface, qgis_processing):
    import sar_eo_coreg

    plugin = sar_eo_coreg.classFactory(iface)
    plugin.initProcessing()
    yield
    plugin.unload()


def fixture_layers(dock, project, data_dir, out, sar_path=None):
    """The S1/S2 fixture as layers `eo` and `sar`, chosen in the dock with `out` as the output folder."""
    eo = QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo")
    sar = QgsRasterLayer(str(sar_path or data_dir / "s1s2_sar.tif"), "sar")
    project.addMapLayers([eo, sar])
    dock.eo_combo.setLayer(eo)
    dock.sar_combo.setLayer(sar)
    dock.output.setFilePath(str(out))
    return eo, sar


def settle(qgis_app, review, timeout=60.0):
    """Wait for the review's background fit of the points on screen."""
    assert wait_until(qgis_app, lambda: not review.fitting, timeout), "the review's fit did not return"
    qgis_app.processEvents()
