"""The dock end to end: real layers, a real background task running the worker, layers added to the
project, the review loop (disable, move, delete, RMSE from the engine's fit), apply, import/export, cancel,
and clear messages for bad input."""

import json
import os
import shutil
import time

import numpy as np
import pytest
from osgeo import gdal
from qgis.core import Qgis, QgsCoordinateReferenceSystem, QgsGeometry, QgsPointXY, QgsRasterLayer
from qgis.PyQt.QtCore import Qt

from sar_eo_coreg.bridge.eo_pixels import EoPixels
from sar_eo_coreg.bridge.tiepoint_layers import read_rows
from sar_eo_coreg.core.transforms import fit_with_residuals, rmse
from sar_eo_coreg.ui.dock import CoregDock
from tests.in_qgis.conftest import settle, wait_until


def add_raster(project, path, name):
    layer = QgsRasterLayer(str(path), name)
    assert layer.isValid()
    project.addMapLayer(layer)
    return layer


def choose(dock, eo, sar, out, max_points=200):
    dock.eo_combo.setLayer(eo)
    dock.sar_combo.setLayer(sar)
    dock.output.setFilePath(str(out))
    dock.max_points.setValue(max_points)


def run_and_wait(dock, qgis_app, start, timeout=300):
    start()
    assert dock.task is not None, dock.status.text()
    assert wait_until(qgis_app, lambda: dock.task is None, timeout), "the task did not finish"


def test_bad_input_is_refused_with_a_clear_message_and_runs_nothing(dock, project, data_dir, tmp_path, iface):
    eo = add_raster(project, data_dir / "s1s2_eo.tif", "eo")
    dock.output.setFilePath(str(tmp_path / "out"))

    dock.start_coregistration()
    assert dock.task is None and "Choose an EO" in dock.status.text()
    assert any("Choose an EO" in m for m in iface.messageBar().get_messages(Qgis.Warning))

    dock.eo_combo.setLayer(eo)
    dock.sar_combo.setLayer(eo)
    dock.start_coregistration()
    assert dock.task is None and "are the same" in dock.status.text()

    no_crs_path = tmp_path / "no_crs.tif"
    src = gdal.Open(str(data_dir / "s1s2_sar.tif"))
    driver = gdal.GetDriverByName("GTiff")
    copy = driver.Create(str(no_crs_path), 64, 64, 1, gdal.GDT_Float32)
    copy.SetGeoTransform(src.GetGeoTransform())
    copy.GetRasterBand(1).WriteArray(np.ones((64, 64), np.float32))
    copy = None
    no_crs = add_raster(project, no_crs_path, "radar without crs")
    no_crs.setCrs(QgsCoordinateReferenceSystem())
    dock.sar_combo.setLayer(no_crs)
    dock.start_coregistration()
    assert dock.task is None and "'radar without crs' has no CRS" in dock.status.text()
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_coregister_review_edit_apply_export_loop(dock, project, data_dir, tmp_path, qgis_app, iface):
    eo = add_raster(project, data_dir / "s1s2_eo.tif", "S2 optical")
    sar = add_raster(project, data_dir / "s1s2_sar.tif", "S1 radar")
    choose(dock, eo, sar, tmp_path / "runs")
    run_and_wait(dock, qgis_app, dock.start_coregistration)
    assert dock.run is not None, dock.status.text()
    run = dock.run
    log = dock.log.toPlainText().splitlines()  # each step once, in order
    assert sum("Writing aligned SAR" in line for line in log) == 1 and len(log) == len(set(log)), log

    # the layers of the run, in a group named after it
    group = project.layerTreeRoot().findGroup(run.name)
    assert group is not None and run.name.startswith("S1_radar_to_S2_optical_")
    names = [layer.name() for layer in group.findLayers()]
    assert names == ["Tie points", "Tie-point links (EO → SAR)", "Aligned SAR", "Confidence: P(offset within 3 px)"]
    confidence = group.findLayers()[-1]
    assert not confidence.isVisible() and confidence.layer().renderer().type() == "singlebandpseudocolor"
    points, links = run.layers.points, run.layers.links
    report = json.loads((tmp_path / "runs" / run.name / "report.json").read_text())
    assert points.featureCount() == links.featureCount() == report["tiepoints"] >= 20
    assert {"id", "enabled", "inlier", "residual", "dx", "dy", "score"} <= set(points.fields().names())
    assert run.layers.aligned.isValid() and run.layers.aligned.width() == eo.width()

    # the review table mirrors the points, and its RMSE is the engine's
    review = dock.review
    settle(qgis_app, review)
    assert review.table.rowCount() == points.featureCount()
    assert "RMSE" in review.rmse_label.text()
    dock.review_transform.setCurrentIndex(dock.review_transform.findData("tps"))
    settle(qgis_app, review)
    before = review.session.rmse
    assert np.isfinite(before)
    residual = np.hypot(*review.session.residual.T)
    worst = int(review.session.rows.ids[np.nanargmax(np.where(review.session.rows.enabled, residual, np.nan))])

    # disable the worst point through the table's checkbox
    row = next(r for r in range(review.table.rowCount()) if review._row_id(r) == worst)
    review.table.item(row, 1).setCheckState(Qt.CheckState.Unchecked)
    wait_until(qgis_app, lambda: worst not in set(review.session.rows.ids[review.session.rows.enabled]), 10)
    settle(qgis_app, review)
    after = review.session.rmse
    assert after < before
    feature = next(points.getFeatures(f"id = {worst}"))
    assert feature["enabled"] in (0, False)

    # the same numbers from the engine's fit on the file's contents
    rows = read_rows(points, links)
    to_px = EoPixels(run.eo_path)
    px = to_px(rows.eo_xy)
    _, expected = fit_with_residuals("tps", px, to_px(rows.sar_xy) - px, rows.enabled, to_px.extent)
    assert rmse(expected[rows.enabled]) == pytest.approx(after, rel=1e-9)

    # selection both ways
    review.table.selectRow(0)
    assert points.selectedFeatureIds() == [review.session.rows.point_fids[review._row_id(0)]]
    points.selectByIds([review.session.rows.point_fids[worst]])
    qgis_app.processEvents()
    assert review.selected_ids() == [worst]

    # double-click zooms the map to the point
    canvas = iface.mapCanvas()
    canvas.setDestinationCrs(points.crs())
    review._zoom_to_row(0, 0)
    k0 = list(review.session.rows.ids).index(review._row_id(0))
    assert canvas.extent().contains(QgsPointXY(*review.session.rows.eo_xy[k0]))
    assert canvas.extent().width() < eo.extent().width() * 0.75

    # move the SAR end of another link with an edit (as the vertex tool does): dx follows
    moved = int(rows.ids[rows.enabled][0])
    k = list(review.session.rows.ids).index(moved)
    dx_before = review.session.disp[k, 0]
    link = next(links.getFeatures(f"id = {moved}"))
    (x0, y0), (x1, y1) = [(p.x(), p.y()) for p in link.geometry().asPolyline()]
    step = 3 * to_px.pixel_size
    links.startEditing()
    links.changeGeometry(link.id(), QgsGeometry.fromPolylineXY([QgsPointXY(x0, y0), QgsPointXY(x1 + step, y1)]))
    wait_until(qgis_app, lambda: abs(review.session.disp[k, 0] - dx_before - 3) < 1e-6, 10)
    assert review.session.disp[k, 0] == pytest.approx(dx_before + 3)

    # delete a point
    deleted = int(rows.ids[-1])
    points.selectByIds([review.session.rows.point_fids[deleted]])
    qgis_app.processEvents()
    review.delete_selected()
    settle(qgis_app, review)
    assert deleted not in set(review.session.rows.ids)
    n_left = len(review.session.rows)
    shown_rmse = review.session.rmse

    # apply & export: the engine re-fits from the edited file; its RMSE is the one the dock showed
    run_and_wait(dock, qgis_app, dock.apply_edits)
    assert not links.isEditable()
    edited = tmp_path / "runs" / f"{run.name}_edited1"
    applied = json.loads((edited / "report.json").read_text())
    assert applied["tiepoints"] == n_left and applied["used"] == int(review.session.rows.enabled.sum())
    assert applied["transform"] == "tps"
    assert applied["residual_rmse_px"] == pytest.approx(shown_rmse, rel=1e-6)
    assert [layer.name() for layer in group.findLayers()][-1] == "Aligned SAR (edited 1)"
    assert {"aligned_sar.tif", "offsets.tif", "tiepoints.points", "tiepoints.csv"} <= set(os.listdir(edited))

    # export and import Georeferencer .points and SpaceNet 9 CSV
    for suffix, header in ((".points", "mapX,mapY,sourceX,sourceY,enable"), (".csv", "sar_row,sar_col")):
        path = tmp_path / f"export{suffix}"
        run_and_wait(dock, qgis_app, lambda p=path: dock.export_tiepoints(str(p)))
        lines = path.read_text().splitlines()
        assert any(line.startswith(header) for line in lines[:2])
        assert len([ln for ln in lines if ln and not ln.startswith("#")]) == n_left + 1
    run_and_wait(dock, qgis_app, lambda: dock.import_tiepoints(str(tmp_path / "export.points")))
    assert dock.run.name.startswith("imported_export_")
    assert dock.run.layers.points.featureCount() == n_left
    assert int(read_rows(dock.run.layers.points, dock.run.layers.links).enabled.sum()) == applied["used"]


@pytest.mark.slow
def test_cancel_stops_the_worker_quickly_and_leaves_nothing(dock, project, data_dir, tmp_path, qgis_app):
    eo = add_raster(project, data_dir / "s1s2_eo.tif", "eo")
    sar = add_raster(project, data_dir / "s1s2_sar.tif", "sar")
    choose(dock, eo, sar, tmp_path / "runs", max_points=3000)
    dock.start_coregistration()
    assert wait_until(qgis_app, lambda: "Global search" in dock.log.toPlainText(), 120), dock.log.toPlainText()
    clicked = time.monotonic()
    task = dock.task
    dock.cancel()
    assert task.description().endswith("(cancelled)")  # what QGIS's task list and notification show
    assert wait_until(qgis_app, lambda: dock.task is None, 10)
    assert time.monotonic() - clicked < 3.0
    assert "Cancelled" in dock.status.text()
    assert dock.run is None
    leftovers = [p for p in (tmp_path / "runs").rglob("*")] if (tmp_path / "runs").exists() else []
    assert leftovers == []
    assert project.layerTreeRoot().children() == [] or all(
        c.name() in ("eo", "sar") for c in project.layerTreeRoot().children())


def test_worker_error_reaches_the_user_as_one_line(dock, project, data_dir, tmp_path, qgis_app):
    broken = tmp_path / "broken.tif"
    shutil.copyfile(data_dir / "s1s2_sar.tif", broken)
    with open(broken, "r+b") as fh:
        fh.truncate(os.path.getsize(broken) // 3)
    eo = add_raster(project, data_dir / "s1s2_eo.tif", "eo")
    sar = QgsRasterLayer(str(broken), "broken sar")
    project.addMapLayer(sar)
    choose(dock, eo, sar, tmp_path / "runs")
    run_and_wait(dock, qgis_app, dock.start_coregistration, 120)
    text = dock.status.text()
    assert "Traceback" not in text and "\n" not in text
    assert "SAR" in text and dock.run is None


def _crop(src, dst, rows, cols):
    """A GeoTIFF crop that keeps the source's georeference for the crop's own pixels (gdal_translate -srcwin)."""
    gdal.Translate(str(dst), str(src), srcWin=[cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start])
    return dst


def test_unrelated_layers_are_reported_as_not_aligned_and_the_review_stays_usable(dock, project, data_dir, tmp_path,
                                                                                   qgis_app, iface):
    """Do no harm, as the analyst sees it: EO and SAR of different ground (both re-georeferenced onto the same
    place) give a red NOT ALIGNED line in the panel and the message bar, an empty tie-point layer and no crash."""
    eo_path = _crop(data_dir / "s1s2_eo.tif", tmp_path / "eo.tif", slice(0, 256), slice(0, 256))
    sar_path = _crop(data_dir / "s1s2_sar.tif", tmp_path / "sar.tif", slice(256, 512), slice(256, 512))
    ds = gdal.OpenEx(str(sar_path), gdal.OF_UPDATE)  # claim the EO's ground: unrelated content, same place
    ds.SetGeoTransform(gdal.Open(str(eo_path)).GetGeoTransform())
    ds = None  # GDAL 3.6 datasets are closed by dereferencing
    eo, sar = add_raster(project, eo_path, "eo"), add_raster(project, sar_path, "sar")
    choose(dock, eo, sar, tmp_path / "runs")
    run_and_wait(dock, qgis_app, dock.start_coregistration, 300)
    log = dock.log.toPlainText()
    assert "NOT ALIGNED" in log and "input georeference" in log
    qgis_app.processEvents()  # the message goes up after QGIS's own "Task complete"
    assert any("NOT aligned" in m for m in iface.messageBar().get_messages(Qgis.Critical))  # red, not yellow
    assert dock.run is not None and dock.run.layers.points.featureCount() == 0


def test_the_dock_remembers_its_options_between_sessions(iface, qgis_app, tmp_path):
    from qgis.core import QgsSettings

    first = CoregDock(iface)
    first.matcher.setCurrentText("learned")
    first.transform.setCurrentIndex(first.transform.findData("tps"))
    first.max_points.setValue(321)
    first.radius.setValue(250)
    first.output.setFilePath(str(tmp_path / "runs"))
    first.save_options()
    second = CoregDock(iface)  # as after a restart of QGIS
    try:
        assert second.matcher.currentText() == "learned" and second.transform.currentData() == "tps"
        assert second.max_points.value() == 321 and second.radius.value() == 250
        assert second.output.filePath() == str(tmp_path / "runs")
    finally:
        QgsSettings().remove("sar_eo_coreg/dock")
        for dock in (first, second):
            dock.setParent(None)
            dock.deleteLater()
        qgis_app.processEvents()
