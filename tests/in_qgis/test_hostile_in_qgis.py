"""The three likeliest hostile cases as the analyst meets them in the dock and in Processing: applying tie
points that belong to another scene, a disk that fills while writing, and a point added in the layer with
NULL attributes. Each gives one line (the dock's status and message bar, or a QgsProcessingException), no
Python error, and no new or half-written output folder."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import (
    Qgis,
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsVectorLayer,
)

from tests.conftest import REPO
from tests.in_qgis.conftest import fixture_layers, wait_until


@pytest.fixture()
def python_errors(monkeypatch):
    """Exceptions that escape to Qt's event loop: QGIS would show them in a Python error dialog."""
    caught = []
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, tb: caught.append(value))
    return caught


def handmade_points(data_dir, path, shift_px=3.0):
    """20 tie points on the S1/S2 fixture, each SAR end `shift_px` east of its EO end (Georeferencer format)."""
    a = gdal.Open(str(data_dir / "s1s2_eo.tif")).GetGeoTransform()
    lines = ["mapX,mapY,sourceX,sourceY,enable"]
    for row in range(60, 480, 100):
        for col in range(60, 480, 120):
            x, y = a[0] + (col + 0.5) * a[1], a[3] + (row + 0.5) * a[5]
            lines.append(f"{x:.3f},{y:.3f},{x + shift_px * a[1]:.3f},{y:.3f},1")
    path.write_text("\n".join(lines) + "\n")
    return path


def full_disk_python(tmp_path):
    """The worker's interpreter behind a file-size limit of 32 kB: its writes fail as on a full disk."""
    wrapper = tmp_path / "python_on_a_full_disk"
    wrapper.write_text(f"#!/bin/sh\nulimit -f 64\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    return str(wrapper)


def folders(path):
    return sorted(p.name for p in path.iterdir()) if path.exists() else []


# ---- the dock ---------------------------------------------------------------------------------------------------
def imported_run(dock, project, data_dir, tmp_path, qgis_app):
    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    dock.import_tiepoints(str(handmade_points(data_dir, tmp_path / "hand.points")))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    assert dock.run is not None and dock.run.layers.points.featureCount() == 20, dock.status.text()
    return dock.run


def apply_and_wait(dock, qgis_app):
    dock.apply_edits()
    assert wait_until(qgis_app, lambda: dock.task is None, 120)


def assert_one_line_in_the_dock(dock, iface, expected):
    text = dock.status.text()
    assert expected in text, text
    assert "\n" not in text and "Traceback" not in text
    assert any(expected in m for m in iface.messageBar().get_messages(Qgis.Warning))


def test_dock_apply_of_points_from_another_scene_is_one_line(dock, project, data_dir, tmp_path, qgis_app, iface,
                                                              python_errors):
    run = imported_run(dock, project, data_dir, tmp_path, qgis_app)
    for layer in (run.layers.points, run.layers.links):  # the points of a scene 100 km away
        layer.startEditing()
        for feature in layer.getFeatures():
            geometry = QgsGeometry(feature.geometry())
            geometry.translate(100_000, 0)
            layer.changeGeometry(feature.id(), geometry)
    before = folders(tmp_path / "runs")
    apply_and_wait(dock, qgis_app)
    assert_one_line_in_the_dock(dock, iface, "lie outside the EO raster")
    assert folders(tmp_path / "runs") == before
    assert python_errors == []


def test_dock_apply_with_a_null_row_added_in_the_layer_is_one_line(dock, project, data_dir, tmp_path, qgis_app, iface,
                                                                    python_errors):
    run = imported_run(dock, project, data_dir, tmp_path, qgis_app)
    points = run.layers.points
    points.startEditing()
    added = QgsFeature(points.fields())  # as the Add Point tool leaves it: a geometry, every attribute NULL
    added.setGeometry(QgsGeometry.fromPointXY(QgsPointXY(points.extent().center())))
    assert points.addFeature(added)
    qgis_app.processEvents()  # the live review skips it
    assert len(dock.review.session.rows) == 20 and python_errors == []
    before = folders(tmp_path / "runs")
    apply_and_wait(dock, qgis_app)
    assert_one_line_in_the_dock(dock, iface, "has no id and no link to a SAR position")
    assert dock.task is None and folders(tmp_path / "runs") == before
    assert python_errors == []


def test_dock_apply_on_a_full_disk_is_one_line_and_writes_nothing(dock, project, data_dir, tmp_path, qgis_app, iface,
                                                                   python_errors, monkeypatch):
    imported_run(dock, project, data_dir, tmp_path, qgis_app)
    before = folders(tmp_path / "runs")
    monkeypatch.setenv("SAR_EO_COREG_PYTHON", full_disk_python(tmp_path))
    apply_and_wait(dock, qgis_app)
    assert_one_line_in_the_dock(dock, iface, "nothing was changed")
    assert folders(tmp_path / "runs") == before
    assert python_errors == []


def test_dock_refuses_an_unwritable_output_folder_in_one_line(dock, project, data_dir, qgis_app, iface, python_errors):
    fixture_layers(dock, project, data_dir, "/proc/sar_eo_coreg_runs")
    dock.start_coregistration()
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    text = dock.status.text()
    assert ("Cannot write to" in text or "Cannot write to the output folder" in text) and "\n" not in text, text
    assert dock.run is None and python_errors == []
    assert not os.path.exists("/proc/sar_eo_coreg_runs")


# ---- Processing -------------------------------------------------------------------------------------------------
def tiepoints_gpkg(data_dir, tmp_path):
    gpkg = tmp_path / "hand.gpkg"
    subprocess.run([sys.executable, "-m", "sar_eo_coreg", "convert", "--tiepoints",
                    str(handmade_points(data_dir, tmp_path / "hand.points")), "--to", str(gpkg), "--eo",
                    str(data_dir / "s1s2_eo.tif"), "--sar", str(data_dir / "s1s2_sar.tif")], cwd=REPO, check=True,
                   capture_output=True)
    return gpkg


def warp(data_dir, gpkg, out):
    import processing

    return processing.run("sar_eo_coreg:warp_from_tiepoints", {
        "TIEPOINTS": f"{gpkg}|layername=tiepoints", "EO": str(data_dir / "s1s2_eo.tif"),
        "SAR": str(data_dir / "s1s2_sar.tif"), "OUTPUT_FOLDER": str(out)})


def assert_one_line_exception(caught, expected):
    text = str(caught.value)
    assert expected in text and "\n" not in text and "Traceback" not in text, text


def test_processing_warp_from_points_of_another_scene_is_one_line(provider, data_dir, tmp_path):
    gpkg = tiepoints_gpkg(data_dir, tmp_path)
    for name in ("tiepoints", "links"):  # the geometries of a scene 100 km away
        layer = QgsVectorLayer(f"{gpkg}|layername={name}", name, "ogr")
        layer.startEditing()
        for feature in layer.getFeatures():
            geometry = QgsGeometry(feature.geometry())
            geometry.translate(100_000, 0)
            layer.changeGeometry(feature.id(), geometry)
        assert layer.commitChanges()
        del layer
    with pytest.raises(QgsProcessingException) as caught:
        warp(data_dir, gpkg, tmp_path / "out")
    assert_one_line_exception(caught, "lie outside the EO raster")
    assert not (tmp_path / "out").exists()


def test_processing_warp_with_a_null_row_is_one_line(provider, data_dir, tmp_path):
    import sqlite3

    gpkg = tiepoints_gpkg(data_dir, tmp_path)
    with sqlite3.connect(gpkg) as con:
        con.execute("INSERT INTO tiepoints (geom) SELECT geom FROM tiepoints LIMIT 1")
    with pytest.raises(QgsProcessingException) as caught:
        warp(data_dir, gpkg, tmp_path / "out")
    assert_one_line_exception(caught, "has no id")
    assert not (tmp_path / "out").exists()


def test_processing_on_a_full_disk_is_one_line_and_writes_nothing(provider, data_dir, tmp_path, monkeypatch):
    gpkg = tiepoints_gpkg(data_dir, tmp_path)
    monkeypatch.setenv("SAR_EO_COREG_PYTHON", full_disk_python(tmp_path))
    with pytest.raises(QgsProcessingException) as caught:
        warp(data_dir, gpkg, tmp_path / "out")
    assert_one_line_exception(caught, "nothing was changed")
    assert not (tmp_path / "out").exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".sar_eo_coreg-")]


def test_dock_runs_with_the_crs_set_on_the_layer_in_qgis(dock, project, data_dir, tmp_path, qgis_app, python_errors):
    """A SAR file without a CRS, whose layer got one in Layer Properties: the engine uses the layer's CRS."""
    from qgis.core import QgsCoordinateReferenceSystem

    bare = tmp_path / "sar_without_crs.tif"
    copy = gdal.GetDriverByName("GTiff").CreateCopy(str(bare), gdal.Open(str(data_dir / "s1s2_sar.tif")))
    copy.SetProjection("")
    copy = None  # GDAL datasets are written when dereferenced
    assert not gdal.Open(str(bare)).GetProjection()
    _, sar = fixture_layers(dock, project, data_dir, tmp_path / "runs", sar_path=bare)
    sar.setCrs(QgsCoordinateReferenceSystem("EPSG:3395"))
    dock.import_tiepoints(str(handmade_points(data_dir, tmp_path / "hand.points")))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    assert dock.run is not None, dock.status.text()
    assert dock.run.crs_args == ["--sar-crs", "EPSG:3395"]
    dock.apply_edits()
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    report = json.loads((Path(dock.run.out_dir + "_edited1") / "report.json").read_text())
    assert report["parameters"]["sar_crs"] == "EPSG:3395" and report["used"] == 20
    assert python_errors == []


def test_a_worker_without_the_engines_packages_offers_set_up_instead_of_a_failing_run(dock, project, data_dir,
                                                                                     tmp_path, qgis_app, monkeypatch,
                                                                                     python_errors):
    monkeypatch.setenv("SAR_EO_COREG_PYTHON", "/usr/bin/python3")  # QGIS's own Python: no onnxruntime, rasterio, cv2
    if subprocess.run(["/usr/bin/python3", "-c", "import onnxruntime, rasterio, cv2"], capture_output=True).returncode == 0:
        pytest.skip("the system Python has the engine's packages")
    dock.detect_device()
    assert wait_until(qgis_app, lambda: dock.controller.missing is not None, 60)
    assert dock.run_button.text() == "Set up environment…" and dock.device_label.wordWrap()
    assert "onnxruntime" in dock.device_label.text()
    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    dock.start_coregistration()
    assert dock.task is None and "lacks" in dock.status.text() and not (tmp_path / "runs").exists()
    monkeypatch.setenv("SAR_EO_COREG_PYTHON", sys.executable)
    dock.detect_device()
    assert wait_until(qgis_app, lambda: dock.controller.missing == [], 60)
    assert dock.run_button.text() == "Coregister"
    assert python_errors == []


def test_the_dock_and_processing_say_the_same_line_when_repeated_points_leave_too_few(dock, project, data_dir,
                                                                                      tmp_path, qgis_app, iface,
                                                                                      provider, python_errors):
    """The 20 points all moved onto one (a repeated point counts once): `apply` with the projective transform has
    one point and refuses, in the same words in the dock and in Processing."""
    from sar_eo_coreg.core.choices import Transform

    def collapse(points, links):
        first = next(points.getFeatures()).geometry().asPoint()
        line = next(links.getFeatures()).geometry().asPolyline()
        for layer, shape in ((points, QgsGeometry.fromPointXY(first)), (links, QgsGeometry.fromPolylineXY(line))):
            layer.startEditing()
            for feature in layer.getFeatures():
                layer.changeGeometry(feature.id(), shape)
            assert layer.commitChanges()

    run = imported_run(dock, project, data_dir, tmp_path, qgis_app)
    collapse(run.layers.points, run.layers.links)
    dock.review_transform.setCurrentIndex(dock.review_transform.findData("projective"))
    apply_and_wait(dock, qgis_app)
    in_dock = dock.status.text()
    assert "Too few tie points for the" in in_dock and ": 1 enabled" in in_dock and "\n" not in in_dock and python_errors == []

    (tmp_path / "processing").mkdir()
    gpkg = tiepoints_gpkg(data_dir, tmp_path / "processing")
    points = QgsVectorLayer(f"{gpkg}|layername=tiepoints", "tiepoints", "ogr")
    links = QgsVectorLayer(f"{gpkg}|layername=links", "links", "ogr")
    collapse(points, links)
    del points, links
    import processing

    with pytest.raises(QgsProcessingException) as caught:
        processing.run("sar_eo_coreg:warp_from_tiepoints", {
            "TIEPOINTS": f"{gpkg}|layername=tiepoints", "EO": str(data_dir / "s1s2_eo.tif"),
            "SAR": str(data_dir / "s1s2_sar.tif"), "OUTPUT_FOLDER": str(tmp_path / "out"),
            "TRANSFORM": list(Transform).index(Transform.PROJECTIVE)})
    in_processing = str(caught.value)
    assert in_processing.replace("'", "") == in_dock.replace("'", "")
    assert not (tmp_path / "out").exists()
