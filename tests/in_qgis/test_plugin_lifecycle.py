"""The plugin loads through classFactory, round-trips initGui/unload and registers its provider."""

from qgis.core import QgsApplication
from qgis.PyQt.QtWidgets import QDockWidget

import sar_eo_coreg

ALGORITHMS = {"sar_eo_coreg:coregister", "sar_eo_coreg:detect_tiepoints", "sar_eo_coreg:warp_from_tiepoints",
              "sar_eo_coreg:coregister_many"}


def _provider():
    return QgsApplication.processingRegistry().providerById("sar_eo_coreg")


def test_init_gui_and_unload_round_trip(iface, qgis_app):
    plugin = sar_eo_coreg.classFactory(iface)
    plugin.initGui()
    try:
        submenu = iface._submenu("SAR–EO Coregistration")
        assert submenu is not None and plugin.action in submenu.actions()
        assert plugin.action in iface.raster_toolbar.actions()
        dock = plugin.dock
        assert dock in iface.window.findChildren(QDockWidget, "SarEoCoregDock") and dock.isHidden()

        assert not plugin.action.isChecked()
        plugin.action.trigger()
        qgis_app.processEvents()
        assert not dock.isHidden() and plugin.action.isChecked()
        plugin.action.trigger()
        qgis_app.processEvents()
        assert dock.isHidden() and not plugin.action.isChecked()
        dock.show()  # shown another way (a restored window layout, the panels menu): the toggle follows
        qgis_app.processEvents()
        plugin._sync_toggle()
        assert plugin.action.isChecked()
        dock.hide()
        qgis_app.processEvents()
        assert _provider() is not None
    finally:
        plugin.unload()
    qgis_app.processEvents()
    assert iface._submenu("SAR–EO Coregistration") is None
    assert iface.raster_toolbar.actions() == []
    assert _provider() is None
    assert plugin.dock is None and plugin.action is None


def test_provider_lists_its_algorithms(iface, qgis_processing):
    plugin = sar_eo_coreg.classFactory(iface)
    plugin.initProcessing()
    try:
        provider = _provider()
        assert provider.name() == "SAR–EO coregistration"
        assert {alg.id() for alg in provider.algorithms()} == ALGORITHMS
        coregister = QgsApplication.processingRegistry().algorithmById("sar_eo_coreg:coregister")
        names = {p.name() for p in coregister.parameterDefinitions()}
        assert {"EO", "SAR", "MATCHER", "TRANSFORM", "SEARCH_RADIUS_M", "DEVICE", "SEED", "OUTPUT_FOLDER"} <= names
    finally:
        plugin.unload()
