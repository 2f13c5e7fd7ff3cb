"""What the analyst sees after a run: the verdict banner on both tabs, an honest before/after (the aligned SAR
against the EO alone), a review that re-fits without freezing QGIS, and a panel that fits 420 px."""

import time

import numpy as np
from osgeo import gdal
from qgis.core import QgsMapRendererSequentialJob, QgsMapSettings, QgsProject, QgsRasterLayer
from qgis.gui import QgsLayerTreeMapCanvasBridge
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtGui import QImage, QPainter
from qgis.PyQt.QtWidgets import QWidget

from sar_eo_coreg.core.report import CoregReport
from sar_eo_coreg.ui.compare import wait_for_render
from sar_eo_coreg.ui.verdict import COLOURS, verdict_text
from tests.in_qgis.conftest import fixture_layers, settle, wait_until


def _run(dock, qgis_app, timeout=300):
    dock.start_coregistration()
    assert dock.task is not None, dock.status.text()
    assert wait_until(qgis_app, lambda: dock.task is None, timeout), "the run did not finish"


def _render(settings: QgsMapSettings) -> np.ndarray:
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return _grey(job.renderedImage())


def _grey(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format_ARGB32)
    width, height = image.width(), image.height()
    data = np.frombuffer(image.constBits().asstring(height * image.bytesPerLine()), np.uint8)
    pixels = data.reshape(height, image.bytesPerLine() // 4, 4)[:, :width]
    return pixels[..., :3].mean(axis=2)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


def test_an_aligned_run_is_green_and_swipes_the_aligned_sar_over_the_eo_alone(dock, project, data_dir, tmp_path,
                                                                            qgis_app, iface):
    eo, sar = fixture_layers(dock, project, data_dir, tmp_path / "runs")
    canvas = iface.mapCanvas()
    canvas.window().show()  # a canvas of 600 x 600 screen pixels, laid out
    canvas.window().resize(600, 600)
    canvas.resize(600, 600)
    qgis_app.processEvents()
    bridge = QgsLayerTreeMapCanvasBridge(project.layerTreeRoot(), canvas)  # as in QGIS: the tree drives the canvas
    canvas.setDestinationCrs(eo.crs())
    canvas.setExtent(eo.extent())
    _run(dock, qgis_app)
    assert dock.run.verdict == "aligned", dock.status.text()
    for banner in (dock.run_banner, dock.review_banner):  # the verdict, on both tabs, in green
        assert not banner.isHidden() and banner.colour == COLOURS["aligned"][0]
        assert banner.label.text().startswith("Aligned.") and banner.zoom_button.isHidden()

    root = project.layerTreeRoot()
    assert not root.findLayer(sar.id()).isVisible()  # the input SAR is hidden ...
    aligned = dock.run.layers.aligned
    assert not root.findLayer(aligned.id()).isVisible()  # ... and so is the aligned one while comparing
    assert dock.compare.mode.currentData() == "swipe" and dock.compare.item.layer is aligned
    assert canvas.extent().intersects(eo.extent())

    # the rendered canvas: EO pixels on the map side of the swipe, the aligned SAR on the other
    item = dock.compare.item
    assert wait_for_render(item)
    for layer in (dock.run.layers.points, dock.run.layers.links):  # the symbols aside, for the pixel check
        root.findLayer(layer.id()).setItemVisibilityChecked(False)
    bridge.setCanvasLayers()
    qgis_app.processEvents()
    settings = QgsMapSettings(canvas.mapSettings())
    assert settings.layers() == [eo]  # under the swipe, the canvas draws the EO and no SAR
    settings.setOutputSize(item.image.size())
    composite = QImage(item.image.size(), QImage.Format_ARGB32)
    composite.fill(0)
    base = QgsMapRendererSequentialJob(settings)
    base.start()
    base.waitForFinished()
    painter = QPainter(composite)
    painter.drawImage(0, 0, base.renderedImage())
    item.paint(painter)
    painter.end()
    shown = _grey(composite)
    eo_only, sar_only = (QgsMapSettings(settings) for _ in range(2))
    eo_only.setLayers([eo])
    sar_only.setLayers([item._opaque])
    eo_view, sar_view = _render(eo_only), _render(sar_only)
    w = shown.shape[1]
    line = int(round(item.position * w))
    ground = (eo_view < 255) & (sar_view < 255)  # where both images are drawn (not the canvas's background)
    right, left = ground & (np.arange(w) > line + 4), ground & (np.arange(w) < line - 4)
    assert right.sum() > 1000 and left.sum() > 1000
    assert _correlation(shown[right], eo_view[right]) > 0.95
    assert _correlation(shown[left], sar_view[left]) > 0.95
    assert _correlation(shown[right], sar_view[right]) < 0.5  # not the SAR under the "map" side
    canvas.window().hide()


def test_the_banner_reads_partly_aligned_in_amber_with_a_zoom_button(dock, project, data_dir, tmp_path, qgis_app):
    """A partly aligned report (the S1/S2 fixture's own report, told that 3 regions fell back) on both tabs."""
    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    _run(dock, qgis_app)
    report = CoregReport.from_dict(dict(CoregReport.from_dict(_report(dock)).to_dict(), verdict="aligned_partly"))
    report.engine["self_check"]["regions_fallen_back"] = 3
    dock._show_verdict(report.verdict, verdict_text(report), report.message)
    for banner in (dock.run_banner, dock.review_banner):
        assert banner.colour == COLOURS["aligned_partly"][0] and not banner.zoom_button.isHidden()
        assert banner.label.text().startswith("Partly aligned: 3 regions follow the global model")


def _report(dock):
    import json
    from pathlib import Path

    return json.loads((Path(dock.run.out_dir) / "report.json").read_text())


def test_a_run_that_does_not_align_is_red_clears_the_review_and_hides_the_last_run(dock, project, data_dir,
                                                                                   tmp_path, qgis_app, iface):
    eo, sar = fixture_layers(dock, project, data_dir, tmp_path / "runs")
    _run(dock, qgis_app)
    first = dock.run
    assert first.verdict == "aligned" and dock.review.table.rowCount() > 0
    dock.review.table.selectRow(0)
    qgis_app.processEvents()
    assert dock.review.chips.eo_x.text() and dock.review.chips.new_button.isEnabled()

    unrelated = tmp_path / "unrelated.tif"  # other ground (the airport SAR), claiming the EO's place
    gdal.Translate(str(unrelated), str(data_dir / "airport_sar.tif"), width=512, height=512,
                   outputBounds=_bounds(data_dir / "s1s2_eo.tif"), outputSRS=eo.crs().authid())
    other = QgsRasterLayer(str(unrelated), "unrelated sar")
    project.addMapLayer(other)
    dock.sar_combo.setLayer(other)
    _run(dock, qgis_app)
    assert dock.run.verdict == "not_aligned"
    for banner in (dock.run_banner, dock.review_banner):
        assert banner.colour == COLOURS["not_aligned"][0] and banner.label.text().startswith("NOT aligned")
        assert "Search radius" in banner.label.text() and "--" not in banner.label.text()
    assert dock.review.table.rowCount() == 0 and "transform" not in dock.review.rmse_label.text().lower()
    assert "--" not in dock.status.text()  # the panel's words, not the command line's
    assert not first.layers.group.isVisible()  # the previous run's layers leave the view
    assert dock.compare.item is None
    chips = dock.review.chips  # nothing of the earlier run's point stays, and there is nothing to add a point to
    assert not chips.eo_x.text() and not chips.sar_y.text() and not chips.new_button.isEnabled()


def _bounds(path):
    ds = gdal.Open(str(path))
    a = ds.GetGeoTransform()
    return a[0], a[3] + a[5] * ds.RasterYSize, a[0] + a[1] * ds.RasterXSize, a[3]


def test_a_re_fit_never_stalls_the_event_loop(dock, project, data_dir, tmp_path, qgis_app):
    """300 tie points on the real airport pair, re-fitted with the slowest transform (projective, leave-one-out:
    seconds): while it runs, Qt's event loop never waits more than 100 ms, and the RMSE follows when it returns."""
    eo = QgsRasterLayer(str(data_dir / "airport_eo.tif"), "airport eo")
    sar = QgsRasterLayer(str(data_dir / "airport_sar.tif"), "airport sar")
    project.addMapLayers([eo, sar])
    dock.eo_combo.setLayer(eo)
    dock.sar_combo.setLayer(sar)
    dock.output.setFilePath(str(tmp_path / "runs"))
    a = gdal.Open(str(data_dir / "airport_eo.tif")).GetGeoTransform()
    rng = np.random.default_rng(0)
    lines = ["mapX,mapY,sourceX,sourceY,enable"]
    for col, row in rng.uniform(12, 372, (300, 2)):  # the hand-checked shift, with 1 px of noise
        dx, dy = -73 + rng.normal(0, 1), -14 + rng.normal(0, 1)
        x, y = a[0] + (col + 0.5) * a[1], a[3] + (row + 0.5) * a[5]
        lines.append(f"{x!r},{y!r},{x + dx * a[1]!r},{y + dy * a[5]!r},1")
    (tmp_path / "dense.points").write_text("\n".join(lines) + "\n")
    dock.import_tiepoints(str(tmp_path / "dense.points"))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    review = dock.review
    settle(qgis_app, review)
    assert len(review.session.rows) == 300

    ticks = []
    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    start = time.perf_counter()
    dock.review_transform.setCurrentIndex(dock.review_transform.findData("projective"))
    review.table.item(3, 1).setCheckState(Qt.CheckState.Unchecked)  # untick one point
    assert review.fitting and "Re-fitting" in review.rmse_label.text()
    settle(qgis_app, review)
    end = time.perf_counter()
    timer.stop()
    gaps = np.diff([start, *ticks, end])
    assert end - start > 0.5  # a fit that would have frozen QGIS on the GUI thread
    assert gaps.max() < 0.100, f"the event loop stalled {gaps.max() * 1000:.0f} ms"
    assert review.session.rows.enabled.sum() == 299 and "Transform projective: RMSE" in review.rmse_label.text()


def test_the_panel_fits_420_px(dock, qgis_app):
    """Every control of both tabs within a 420-px-wide panel, laid out on screen."""
    for index in range(dock.tabs.count()):
        page = dock.tabs.widget(index)
        assert page.minimumSizeHint().width() <= 420, (dock.tabs.tabText(index), page.minimumSizeHint().width())
    dock.setFloating(True)
    dock.resize(420, 1100)
    dock.show()
    qgis_app.processEvents()
    assert dock.isVisible() and dock.width() == 420
    for index in range(dock.tabs.count()):
        dock.tabs.setCurrentIndex(index)
        qgis_app.processEvents()
        page = dock.tabs.widget(index)
        shown = [w for w in page.findChildren(QWidget) if w.isVisible() and w.window() is dock.window()]
        assert len(shown) > 10
        for widget in shown:
            right = widget.mapTo(dock, widget.rect().topRight()).x()
            assert right <= 420, (type(widget).__name__, right)
    dock.hide()
    dock.setFloating(False)


def test_the_project_keeps_no_stray_comparison(dock, project, data_dir, tmp_path, qgis_app, iface):
    """Unloading the panel takes its comparison off the canvas."""
    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    _run(dock, qgis_app)
    item = dock.compare.item
    assert item is not None and item.scene() is iface.mapCanvas().scene()
    dock.compare.remove()
    assert dock.compare.item is None and item not in iface.mapCanvas().scene().items()
    assert QgsProject.instance().mapLayer(dock.run.layers.aligned.id()) is not None
