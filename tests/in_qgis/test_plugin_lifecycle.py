"""The plugin loads through classFactory, round-trips initGui/unload and registers its provider."""

import pytest
from qgis.core import QgsApplication, QgsProcessingException
from qgis.PyQt.QtWidgets import QDockWidget

import sar_eo_coreg

ALGORITHMS = {"sar_eo_coreg:coregister", "sar_eo_coreg:detect_tiepoints", "sar_eo_coreg:warp_from_tiepoints"}


def _provider():
    return QgsApplication.processingRegistry().providerById("sar_eo_coreg")


def test_init_gui_and_unload_round_trip(iface, qgis_app):
    plugin = sar_eo_coreg.classFactory(iface)
    plugin.initGui()
    try:
        submenu = iface._submenu("SAR–EO Coregistration")
        assert submenu is not None and plugin.action in submenu.actions()
        assert plugin.action in iface.raster_toolbar.actions()
        dock = iface.window.findChild(QDockWidget, "SarEoCoregDock")
        assert dock is not None and dock.isHidden()

        plugin.action.trigger()
        qgis_app.processEvents()
        assert not dock.isHidden()
        plugin.action.trigger()
        qgis_app.processEvents()
        assert dock.isHidden()
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


def test_algorithm_without_engine_says_not_available(iface, qgis_processing, data_dir, tmp_path):
    import processing

    plugin = sar_eo_coreg.classFactory(iface)
    plugin.initProcessing()
    try:
        params = {
            "TIEPOINTS": None,
            "EO": str(data_dir / "s1s2_eo.tif"),
            "SAR": str(data_dir / "s1s2_sar.tif"),
            "OUTPUT_FOLDER": str(tmp_path / "out"),
        }
        with pytest.raises(QgsProcessingException, match="not available yet"):
            processing.run("sar_eo_coreg:coregister", params)
        assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    finally:
        plugin.unload()
