"""QGIS opens what the engine writes: the GeoPackage layers with their fields, and the rasters on the EO grid."""

import json
import subprocess
import sys

import numpy as np
import pytest
from qgis.core import QgsProject, QgsRasterLayer, QgsVectorLayer, QgsWkbTypes

from sar_eo_coreg.bridge.tiepoint_layers import add_run_layers
from sar_eo_coreg.core import pipeline
from sar_eo_coreg.core.raster import eo_grid, open_info
from sar_eo_coreg.core.tiepoints import POINT_FIELDS, write_gpkg
from tests.conftest import REPO, worse_regions


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("qgis_outputs") / "run"
    result = subprocess.run(
        [sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", data_dir / "s1s2_eo.tif", "--sar",
         data_dir / "s1s2_sar.tif", "--out", out, "--progress", "none", "--transform", "tps"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    return out


def test_tiepoint_layers_open_with_the_contract_fields(outputs, qgis_app, data_dir):
    eo = QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo")
    points = QgsVectorLayer(f"{outputs / 'tiepoints.gpkg'}|layername=tiepoints", "tiepoints", "ogr")
    links = QgsVectorLayer(f"{outputs / 'tiepoints.gpkg'}|layername=links", "links", "ogr")
    assert points.isValid() and links.isValid()
    assert [f.name() for f in points.fields()] == ["fid", *POINT_FIELDS]
    assert points.featureCount() == links.featureCount() > 20
    assert points.geometryType() == QgsWkbTypes.GeometryType.PointGeometry
    assert links.geometryType() == QgsWkbTypes.GeometryType.LineGeometry
    assert points.crs() == eo.crs()
    assert eo.extent().contains(points.extent())
    feature = next(points.getFeatures())
    assert feature["eo_x"] == pytest.approx(feature.geometry().asPoint().x())


def test_rasters_load_on_top_of_the_eo(outputs, qgis_app, data_dir):
    eo = QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo")
    aligned = QgsRasterLayer(str(outputs / "aligned_sar.tif"), "aligned")
    offsets = QgsRasterLayer(str(outputs / "offsets.tif"), "offsets")
    assert aligned.isValid() and offsets.isValid()
    assert aligned.crs() == eo.crs() and aligned.extent() == eo.extent()
    assert (aligned.width(), aligned.height()) == (eo.width(), eo.height())
    assert offsets.bandCount() == 2
    assert aligned.dataProvider().sourceHasNoDataValue(1)


def test_the_regions_that_follow_the_global_model_are_drawn_with_the_run(qgis_app, data_dir, tmp_path):
    """Where the self-check finds the local field measurably worse (here: the engine's field on the fixture,
    corrupted in its north-west ninth, tests/conftest.worse_regions), the run's group in QGIS gets a polygon layer
    over exactly the regions report.json lists, in the EO CRS. The run is real; its tie-point file and report
    are rewritten with those regions by the engine's own writer and locator."""
    eo_path = data_dir / "s1s2_eo.tif"
    result = pipeline.coregister(eo_path, data_dir / "s1s2_sar.tif", tmp_path / "run", pipeline.CoregParams())
    _, _, (_, _, stats) = worse_regions(eo_path, data_dir / "s1s2_sar.tif")
    eo = open_info(eo_path, "EO")
    regions = pipeline._located(stats["fallback_regions"], eo_grid(eo), 1)
    write_gpkg(tmp_path / "run" / "tiepoints.gpkg", result.tiepoints, eo, regions)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    report["engine"]["self_check"]["fallback_regions"] = regions
    (tmp_path / "run" / "report.json").write_text(json.dumps(report))
    project = QgsProject()
    run = add_run_layers(str(tmp_path / "run"), "run", project)
    layers = {layer.name(): layer.layer() for layer in run.group.findLayers()}
    drawn = layers["Follows the global model (self-check)"]
    assert drawn.geometryType() == QgsWkbTypes.GeometryType.PolygonGeometry
    assert drawn.crs() == QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo").crs()
    assert drawn.featureCount() == len(regions) >= 1
    for feature, region in zip(drawn.getFeatures(), regions):
        box = feature.geometry().boundingBox()
        assert np.allclose([box.xMinimum(), box.yMinimum(), box.xMaximum(), box.yMaximum()], region["bounds"])
        assert feature["reason"] == region["reason"]
    # a run where no region is worse: its (empty) layer is not drawn
    pipeline.coregister(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", tmp_path / "full", pipeline.CoregParams())
    assert json.loads((tmp_path / "full" / "report.json").read_text())["engine"]["self_check"]["fallback_regions"] == []
    names = [layer.name() for layer in add_run_layers(str(tmp_path / "full"), "full", project).group.findLayers()]
    assert "Follows the global model (self-check)" not in names
