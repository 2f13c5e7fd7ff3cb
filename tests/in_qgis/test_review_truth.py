"""The review shows the truth: wrong matches that agree with each other are drawn as suspect (deviation from
the robust global model, not the local model's leave-one-out residual), one click disables them, one click
undoes it, and rejected and disabled points look different."""

import json
from pathlib import Path

import pytest
from osgeo import gdal
from qgis.core import QgsExpression, QgsExpressionContext, QgsExpressionContextUtils, QgsRasterLayer

from tests.in_qgis.conftest import fixture_layers, settle, wait_until

WRONG = {5, 6, 7}  # ids of the injected wrong matches: a cluster that vouches for itself


def points_with_wrong_matches(data_dir, path):
    """24 tie points on the S1/S2 fixture 3 px apart (the truth); points 5-7, neighbours, 40 px off the same way."""
    a = gdal.Open(str(data_dir / "s1s2_eo.tif")).GetGeoTransform()
    lines, pid = ["mapX,mapY,sourceX,sourceY,enable"], 0
    for row in range(40, 480, 80):
        for col in range(60, 480, 110):
            pid += 1
            shift = 40.0 if pid in WRONG else 3.0
            x, y = a[0] + (col + 0.5) * a[1], a[3] + (row + 0.5) * a[5]
            lines.append(f"{x:.3f},{y:.3f},{x + shift * a[1]:.3f},{y:.3f},1")
    path.write_text("\n".join(lines) + "\n")
    return path


def matching_rule(layer, feature):
    """The legend labels of the point renderer's rules whose filter the feature passes."""
    context = QgsExpressionContext()
    context.appendScope(QgsExpressionContextUtils.layerScope(layer))
    context.setFeature(feature)
    return [rule.label() for rule in layer.renderer().rootRule().children()
            if QgsExpression(rule.filterExpression()).evaluate(context)]


def test_wrong_matches_are_drawn_as_suspect_and_one_click_disables_them(dock, project, data_dir, tmp_path, qgis_app):
    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    dock.import_tiepoints(str(points_with_wrong_matches(data_dir, tmp_path / "hand.points")))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    points = dock.run.layers.points
    review = dock.review
    dock.review_transform.setCurrentIndex(dock.review_transform.findData("tps"))
    settle(qgis_app, review)

    # every point matches exactly one rule; the wrong ones the suspect rule, although tps bends to them
    rules = {int(f["id"]): matching_rule(points, f) for f in points.getFeatures()}
    assert all(len(r) == 1 for r in rules.values()), rules
    suspects = {pid for pid, r in rules.items() if r[0].startswith("suspect")}
    assert suspects == WRONG
    assert {int(f["id"]) for f in points.getFeatures() if f["suspect"]} == WRONG
    before = review.session.rmse

    # one click disables them (drawn as disabled by you), the fit improves; undo restores them
    review.suspect_button.click()
    settle(qgis_app, review)
    disabled = {int(i) for i, e in zip(review.session.rows.ids, review.session.rows.enabled) if not e}
    assert disabled == WRONG and review.session.rmse < before
    assert {matching_rule(points, f)[0] for f in points.getFeatures() if int(f["id"]) in WRONG} == {"disabled by you"}
    review.undo_button.click()
    settle(qgis_app, review)
    assert review.session.rows.enabled.all() and review.session.rmse == pytest.approx(before)

    # points below a confidence are disabled in one click too (imported points have confidence 1: none here)
    review.disable_below(0.5)
    assert review.session.rows.enabled.all()


def test_rejected_and_disabled_points_look_different(dock, project, data_dir, tmp_path, qgis_app):
    from sar_eo_coreg.bridge.tiepoint_layers import style_links, style_points

    eo = QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo")
    project.addMapLayer(eo)
    from qgis.core import QgsFeature, QgsVectorLayer

    layer = QgsVectorLayer("Point?field=id:integer&field=enabled:integer&field=inlier:integer&field=residual:double"
                           "&field=suspect:integer&field=score:double", "t", "memory")
    provider = layer.dataProvider()
    for pid, enabled, inlier in ((1, 0, 0), (2, 0, 1), (3, 1, 0), (4, 1, 1)):
        feature = QgsFeature(layer.fields())
        feature.setAttributes([pid, enabled, inlier, 1.5, 0, 0.2])
        provider.addFeature(feature)
    style_points(layer)
    labels = {int(f["id"]): matching_rule(layer, f) for f in layer.getFeatures()}
    assert labels == {1: ["rejected by the engine"], 2: ["disabled by you"], 3: ["residual 1–2 px"],
                      4: ["residual 1–2 px"]}  # a re-enabled rejected point gets its normal symbol
    links = QgsVectorLayer("LineString?field=id:integer&field=enabled:integer&field=suspect:integer", "l", "memory")
    style_links(links)
    assert [r.label() for r in links.renderer().rootRule().children()] == ["suspect", "enabled", "disabled or rejected"]


def test_compare_draws_the_sar_through_a_swipe_or_a_checkerboard(dock, project, data_dir, tmp_path, qgis_app, iface):
    from qgis.PyQt.QtCore import QPoint
    from qgis.PyQt.QtGui import QImage, QPainter

    from sar_eo_coreg.ui.compare import wait_for_render

    eo, sar = fixture_layers(dock, project, data_dir, tmp_path / "runs")
    canvas = iface.mapCanvas()
    canvas.setDestinationCrs(eo.crs())
    canvas.setLayers([eo])
    canvas.setExtent(eo.extent())
    dock.compare.mode.setCurrentIndex(dock.compare.mode.findData("swipe"))
    assert dock.compare.item is None and "Nothing to compare" in dock.status.text()
    dock.import_tiepoints(str(points_with_wrong_matches(data_dir, tmp_path / "hand.points")))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    dock.apply_edits()  # writes and loads an aligned SAR, styled to let the EO show through
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    aligned = dock.run.layers.aligned
    assert aligned is not None and aligned.renderer().opacity() < 1

    item = dock.compare.item
    assert item is not None and item.layer is aligned and wait_for_render(item)
    w, h = item.image.width(), item.image.height()
    covered = [x for x in range(w) if item.image.pixelColor(x, h // 2).alpha() > 0]  # where the SAR is drawn
    assert len(covered) > 4
    line = (covered[0] + covered[-1]) / 2 / w
    dock.compare.slider.setValue(int(round(100 * line)))
    assert item.position == pytest.approx(round(100 * line) / 100)
    assert item.region().boundingRect().width() == round(item.position * w)

    # the SAR is painted left of the line only
    canvas_image = QImage(w, h, QImage.Format_ARGB32)
    canvas_image.fill(0)
    painter = QPainter(canvas_image)
    item.paint(painter)
    painter.end()
    left, right = covered[0] + 1, covered[-1] - 1
    assert canvas_image.pixelColor(left, h // 2) == item.image.pixelColor(left, h // 2)
    assert canvas_image.pixelColor(left, h // 2).alpha() == 255  # at full opacity, though the layer is blended
    assert canvas_image.pixelColor(right, h // 2).alpha() == 0

    # checkerboard: alternate cells; the input SAR instead of the aligned one; off removes the item
    dock.compare.mode.setCurrentIndex(dock.compare.mode.findData("checkerboard"))
    dock.compare.slider.setValue(0)
    region, n = item.region(), item.cell_px
    assert item.mode == "checkerboard" and n == 8 and len(region.rects()) > 4
    assert region.contains(QPoint(1, 1)) and not region.contains(QPoint(n + 1, 1)) and region.contains(QPoint(n + 1, n + 1))
    dock.compare.side.setCurrentIndex(dock.compare.side.findData("input"))
    assert dock.compare.item is not item and dock.compare.item.layer is sar
    dock.compare.mode.setCurrentIndex(dock.compare.mode.findData(None))
    assert dock.compare.item is None


def test_chip_viewer_shows_the_selected_point_and_a_click_moves_its_sar_end(dock, project, data_dir, tmp_path,
                                                                            qgis_app):
    from qgis.PyQt.QtCore import QPoint, Qt
    from qgis.PyQt.QtTest import QTest

    from sar_eo_coreg.ui.chips import CHIP_PX

    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    dock.import_tiepoints(str(points_with_wrong_matches(data_dir, tmp_path / "hand.points")))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    review, chips = dock.review, dock.review.chips
    assert chips.point is None and chips.sar_chip.pixmap() is None or chips.sar_chip.pixmap().isNull()

    wrong = min(WRONG)
    row = next(r for r in range(review.table.rowCount()) if review._row_id(r) == wrong)
    review.table.selectRow(row)
    qgis_app.processEvents()
    assert chips.point[0] == wrong and "(+40.0, +0.0) px" in chips.caption.text()
    eo_image, sar_image = chips.eo_chip.pixmap().toImage(), chips.sar_chip.pixmap().toImage()
    assert eo_image.width() == CHIP_PX and eo_image != sar_image  # two different images, both rendered
    assert len({eo_image.pixel(x, y) for x in range(0, CHIP_PX, 8) for y in range(0, CHIP_PX, 8)}) > 10

    # the analyst sees the ground 37 px to the left in the SAR chip and clicks there: the link follows
    QTest.mouseClick(chips.sar_chip, Qt.MouseButton.LeftButton, pos=QPoint(CHIP_PX // 2 - 37, CHIP_PX // 2))
    settle(qgis_app, review)
    k = list(review.session.rows.ids).index(wrong)
    assert review.session.disp[k, 0] == pytest.approx(3.0, abs=0.01)
    assert not review.session.suspect[k] and "(+3.0, +0.0) px" in chips.caption.text()

    # add a point: a feature in the EO chip, then the same ground in the SAR chip
    before = len(review.session.rows)
    chips.add_button.click()
    QTest.mouseClick(chips.eo_chip, Qt.MouseButton.LeftButton, pos=QPoint(CHIP_PX // 2 + 20, CHIP_PX // 2 + 10))
    assert "SAR chip" in chips.caption.text()
    QTest.mouseClick(chips.sar_chip, Qt.MouseButton.LeftButton, pos=QPoint(CHIP_PX // 2 + 20, CHIP_PX // 2 + 10))
    qgis_app.processEvents()
    rows = review.session.rows
    assert len(rows) == before + 1 and not chips.add_button.isChecked()
    new = int(rows.ids.max())
    k = list(rows.ids).index(new)
    assert rows.enabled[k] and review.session.disp[k] == pytest.approx([3.0, 0.0], abs=0.01)
    assert chips.point[0] == new  # the new point is selected and shown
    dock.apply_edits()  # the engine takes the analyst's point like any other
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    assert json.loads(Path(dock.run.out_dir + "_edited1", "report.json").read_text())["tiepoints"] == before + 1

    review.table.clearSelection()
    qgis_app.processEvents()
    assert chips.point is None


def test_on_the_real_airport_pair_no_point_far_from_the_hand_checked_shift_looks_good(dock, project, data_dir,
                                                                                    tmp_path, qgis_app):
    """Truth: the hand-checked, near-uniform shift of the real GF-3 / WorldView airport pair (-73, -14) px, and
    the truth points no matcher made (tests/conftest.py). Every enabled point drawn as not suspect lies
    near the shift, those next to each truth point agree with it, and so does the run's offset map; wrong matches
    injected by moving SAR ends are drawn as suspect, and one click disables exactly them."""
    import numpy as np
    import rasterio

    from sar_eo_coreg.core.transforms import SUSPECT_MIN_PX
    from tests.conftest import AIRPORT_CROP_ORIGIN, AIRPORT_TRUTH

    hand_shift = np.array([-73.0, -14.0])
    dock.output.setFilePath(str(tmp_path / "runs"))
    eo = QgsRasterLayer(str(data_dir / "airport_eo.tif"), "airport eo")
    sar = QgsRasterLayer(str(data_dir / "airport_sar.tif"), "airport sar")
    project.addMapLayers([eo, sar])
    dock.eo_combo.setLayer(eo)
    dock.sar_combo.setLayer(sar)
    dock.radius.setValue(120)
    dock.start_coregistration()
    assert wait_until(qgis_app, lambda: dock.task is None, 300)
    review = dock.review
    settle(qgis_app, review)
    assert dock.run is not None and len(review.session.rows) >= 20, dock.status.text()

    def looks_good():
        rows, session = review.session.rows, review.session
        return rows.enabled & ~session.suspect

    off_truth = np.hypot(*(review.session.disp - hand_shift).T)
    assert (off_truth[looks_good()] < 8).all(), off_truth[looks_good()].max()
    with rasterio.open(Path(dock.run.out_dir) / "offsets.tif") as ds:
        offsets = ds.read()
    px = review.session.to_pixel(review.session.rows.eo_xy)
    for col, row, tx, ty, uncertainty in AIRPORT_TRUTH:
        c, r = col - AIRPORT_CROP_ORIGIN, row - AIRPORT_CROP_ORIGIN
        assert np.hypot(*(offsets[:, round(r), round(c)] - (tx, ty))) < 3.0
        next_to_it = looks_good() & (np.hypot(px[:, 0] - c, px[:, 1] - r) < 60)
        # a point is drawn as suspect beyond SUSPECT_MIN_PX: one that is not must be within that of the truth
        # (known to its uncertainty)
        assert next_to_it.sum() >= 1 and (np.hypot(*(review.session.disp[next_to_it] - (tx, ty)).T)
                                          < SUSPECT_MIN_PX + uncertainty).all()

    rows = review.session.rows
    injected = [int(i) for i in rows.ids[rows.enabled][:: max(1, int(rows.enabled.sum()) // 4)][:4]]
    pixel = review.session.to_pixel.pixel_size
    for pid in injected:  # wrong matches 45 px east of the truth
        k = list(review.session.rows.ids).index(pid)
        x, y = review.session.rows.sar_xy[k]
        review.move_sar_end(pid, (x + 45 * pixel, y))
    settle(qgis_app, review)
    session = review.session
    assert set(session.rows.ids[session.rows.enabled & session.suspect].tolist()) == set(injected)
    off_truth = np.hypot(*(session.disp - hand_shift).T)
    assert (off_truth[looks_good()] < 8).all()
    review.suspect_button.click()
    settle(qgis_app, review)
    assert set(review.session.rows.ids[~review.session.rows.enabled].tolist()) >= set(injected)


def test_linked_zoom_typed_coordinates_and_the_residual_report(dock, project, data_dir, tmp_path, qgis_app):
    """The two chips zoom together and a click then moves the SAR end by screen px / zoom; typed coordinates move
    a point's ends or add a point; the residual report lists every point with the residuals the table shows."""
    from html.parser import HTMLParser

    import numpy as np
    from qgis.PyQt.QtCore import QPoint, Qt
    from qgis.PyQt.QtTest import QTest

    from sar_eo_coreg.ui.chips import CHIP_PX

    fixture_layers(dock, project, data_dir, tmp_path / "runs")
    dock.import_tiepoints(str(points_with_wrong_matches(data_dir, tmp_path / "hand.points")))
    assert wait_until(qgis_app, lambda: dock.task is None, 120)
    review, chips = dock.review, dock.review.chips
    settle(qgis_app, review)
    wrong = min(WRONG)
    review.table.selectRow(next(r for r in range(review.table.rowCount()) if review._row_id(r) == wrong))
    qgis_app.processEvents()
    at_one = chips.eo_chip.pixmap().toImage(), chips.sar_chip.pixmap().toImage()
    chips.zoom_by(1)  # both views, one step: 2 screen px per EO px
    assert chips.zoom == 2.0 and "at 2×" in chips.caption.text()
    at_two = chips.eo_chip.pixmap().toImage(), chips.sar_chip.pixmap().toImage()
    assert at_two[0] != at_one[0] and at_two[1] != at_one[1]  # both re-rendered
    # at 2x the centre 40 px of the 1x view fill the chip: its centre pixel matches the 1x centre pixel's grey
    assert abs(QColorGrey(at_two[0].pixel(CHIP_PX // 2 + 1, CHIP_PX // 2 + 1))
               - QColorGrey(at_one[0].pixel(CHIP_PX // 2, CHIP_PX // 2))) < 60
    QTest.mouseClick(chips.sar_chip, Qt.MouseButton.LeftButton, pos=QPoint(CHIP_PX // 2 - 74, CHIP_PX // 2))
    settle(qgis_app, review)
    k = list(review.session.rows.ids).index(wrong)
    assert review.session.disp[k] == pytest.approx([3.0, 0.0], abs=0.01)  # 74 screen px at 2x = 37 EO px
    for _ in range(10):
        chips.zoom_by(1)
    assert chips.zoom == 8.0 and not chips.zoom_in.isEnabled()

    # typed: the SAR end 5 EO px east of the EO end, then a new point with typed ends
    pixel = review.session.to_pixel.pixel_size
    eo_x, eo_y = review.session.rows.eo_xy[k]
    chips.sar_x.setText(f"{eo_x + 5 * pixel:.3f}")
    chips.sar_y.setText(f"{eo_y:.3f}")
    chips.set_button.click()
    settle(qgis_app, review)
    k = list(review.session.rows.ids).index(wrong)
    assert review.session.disp[k] == pytest.approx([5.0, 0.0], abs=0.01)
    before = len(review.session.rows)
    chips.eo_x.setText(f"{eo_x + 30 * pixel:.3f}")
    chips.sar_x.setText(f"{eo_x + 33 * pixel:.3f}")
    chips.new_button.click()
    settle(qgis_app, review)
    rows = review.session.rows
    assert len(rows) == before + 1
    assert review.session.disp[list(rows.ids).index(int(rows.ids.max()))] == pytest.approx([3.0, 0.0], abs=0.01)
    chips.eo_x.setText("east")
    chips.set_button.click()
    assert "four numbers" in chips.caption.text() and len(review.session.rows) == before + 1

    report = tmp_path / "residuals.html"
    dock.residual_report(str(report))
    assert report.exists() and not list(tmp_path.glob("*.partial"))

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.rows, self.svg = [], False

        def handle_starttag(self, tag, attrs):
            self.svg |= tag == "svg"
            if tag == "tr":
                self.rows.append([])
            elif tag == "td":
                self.rows[-1].append("")

        def handle_data(self, data):
            if self.rows and self.lasttag == "td" and self.rows[-1]:
                self.rows[-1][-1] += data

    parsed = Cells()
    parsed.feed(report.read_text())
    table = [r for r in parsed.rows if len(r) == 14]
    session = review.session
    assert parsed.svg and sorted(int(r[0]) for r in table) == sorted(session.rows.ids.tolist())
    norm = np.hypot(*session.residual.T)
    for r in table:
        k = list(session.rows.ids).index(int(r[0]))
        assert (r[1] == "yes") == bool(session.rows.enabled[k])
        assert (float(r[13]) == pytest.approx(norm[k], abs=0.006)) if r[13] else not np.isfinite(norm[k])
    assert session.summary() in report.read_text()
    dock.residual_report(str(tmp_path / "no" / "such" / "folder.html"))
    assert "does not exist" in dock.status.text()


def QColorGrey(rgb):  # noqa: N802 (reads as the Qt call it wraps)
    from qgis.PyQt.QtGui import QColor

    return QColor(rgb).lightness()
