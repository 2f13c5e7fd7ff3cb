"""QGIS opens what the engine writes: both GeoPackage layers with their fields, and the rasters on the EO grid."""

import subprocess
import sys

import pytest
from qgis.core import QgsRasterLayer, QgsVectorLayer, QgsWkbTypes

from sar_eo_coreg.core.tiepoints import POINT_FIELDS
from tests.conftest import REPO


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
