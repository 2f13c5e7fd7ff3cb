"""The tie-point review: a table synchronised with the point layer, the chips of the selected point, and live
residuals and RMSE for the chosen transform, fitted in the background (review_state)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import numpy as np
from qgis.core import QgsCoordinateTransform, QgsFeature, QgsGeometry, QgsPointXY, QgsProject, QgsRectangle
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt, QTimer, pyqtSignal
from qgis.PyQt.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..bridge.tiepoint_layers import reopen_readers, set_enabled, write_review_fields
from ..core.transforms import SUSPECT_MIN_PX, SUSPECT_SIGMAS
from .chips import ChipViewer
from .review_state import ReviewFit, ReviewSession

COLUMNS = ("id", "enabled", "dx px", "dy px", "residual px", "off global px", "confidence")
COLUMN_TIPS = (
    "Tie point id (as in the layers and the exported files)",
    "Whether the point enters the fit. Unticked: rejected by the engine or disabled by you",
    "Measured displacement, SAR minus EO, in EO pixels (x)",
    "Measured displacement, SAR minus EO, in EO pixels (y)",
    "Leave-one-out residual of the chosen transform, EO pixels: small when the other points predict this one",
    f"Distance from the robust global affine of the enabled points, EO pixels. Above max({SUSPECT_MIN_PX:g} px, "
    f"{SUSPECT_SIGMAS:g} robust sigmas) the point is suspect (red triangle): a wrong match, or strong local warp",
    "The engine's confidence in the match, 0-1 (peak strength, distinctness and forward-backward agreement)",
)


class ReviewPanel(QWidget):
    """Table of tie points (id, enabled, dx, dy, residual, score) with the RMSE line."""

    changed = pyqtSignal()  # the points or their fit changed
    fitted = pyqtSignal()  # a fit of the current points returned

    def __init__(self, parent=None):
        super().__init__(parent)
        self.session: Optional[ReviewSession] = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-fit")
        self._generation = 0
        self._running = None  # (generation, future) of the fit in progress
        self._waiting = None  # (generation, job) to fit next
        self._poll = QTimer(self)  # the fit's result is collected on the GUI thread: no Qt call from the thread
        self._poll.setInterval(15)
        self._poll.timeout.connect(self._collect)
        self.transform = "auto"
        self._filling = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.rmse_label = QLabel(self.tr("Run a coregistration to review its tie points."), self)
        self.rmse_label.setWordWrap(True)
        self.rmse_label.setObjectName("rmse_label")
        layout.addWidget(self.rmse_label)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        for column, tip in enumerate(COLUMN_TIPS):
            self.table.horizontalHeaderItem(column).setToolTip(tip)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._table_selection_changed)
        self.table.cellDoubleClicked.connect(self._zoom_to_row)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.disable_button = QPushButton(self.tr("Disable"), self)
        self.enable_button = QPushButton(self.tr("Enable"), self)
        self.delete_button = QPushButton(self.tr("Delete"), self)
        for button, tip in ((self.disable_button, "Disable the selected points: they stay, out of the fit."),
                            (self.enable_button, "Enable the selected points: back in the fit."),
                            (self.delete_button, "Delete the selected points from both layers.")):
            button.setToolTip(self.tr(tip))
        for button, handler in ((self.disable_button, lambda: self.set_selected_enabled(False)),
                                (self.enable_button, lambda: self.set_selected_enabled(True)),
                                (self.delete_button, self.delete_selected)):
            button.clicked.connect(handler)
            buttons.addWidget(button)
        layout.addLayout(buttons)
        quick = QHBoxLayout()
        self.suspect_button = QPushButton(self.tr("suspect"), self)
        self.suspect_button.setToolTip(self.tr("Disable the enabled suspect points (red triangles): off the robust "
                                               "global model, a large residual, or at the image's edge."))
        self.suspect_button.clicked.connect(self.disable_suspect)
        self.confidence_button = QPushButton(self.tr("conf. <"), self)
        self.confidence_button.setToolTip(self.tr("Disable the enabled points whose confidence is below this value."))
        self.confidence_button.clicked.connect(lambda: self.disable_below(self.min_confidence.value()))
        self.min_confidence = QDoubleSpinBox(self)
        self.min_confidence.setRange(0.0, 1.0)
        self.min_confidence.setSingleStep(0.01)
        self.min_confidence.setValue(0.05)
        self.undo_button = QPushButton(self.tr("Undo"), self)
        self.undo_button.setToolTip(self.tr("Undo the last enable/disable action of this panel."))
        self.undo_button.clicked.connect(self.undo)
        self.undo_button.setEnabled(False)
        quick.addWidget(QLabel(self.tr("Disable"), self))
        for widget in (self.suspect_button, self.confidence_button, self.min_confidence, self.undo_button):
            quick.addWidget(widget)
        layout.addLayout(quick)
        self.chips = ChipViewer(self)
        self.chips.new_button.setEnabled(False)  # until there are points to add to
        self.chips.move_ends = self.move_ends
        self.chips.add_point = self.add_point
        layout.addWidget(self.chips)
        self.chip_layers = lambda: (None, None)  # (EO layer, input SAR layer), set by the dock
        self._undo = []  # (ids, previous enabled values) of the panel's enable/disable actions
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(0)
        self._refresh_timer.timeout.connect(self.refresh)
        self.canvas = None

    # ---- binding -------------------------------------------------------------------------------
    def bind(self, session: ReviewSession, canvas=None) -> None:
        self.session = session
        self.chips.new_button.setEnabled(True)
        self.canvas = canvas
        self._undo = []
        self.undo_button.setEnabled(False)
        points, links = session.run.points, session.run.links
        for layer in (points, links):
            layer.attributeValueChanged.connect(self.schedule_refresh)
            layer.geometryChanged.connect(self.schedule_refresh)
            layer.featuresDeleted.connect(self.schedule_refresh)
            layer.afterCommitChanges.connect(self.schedule_refresh)
            layer.afterRollBack.connect(self.schedule_refresh)
        points.afterCommitChanges.connect(lambda: reopen_readers([links]))
        links.afterCommitChanges.connect(lambda: reopen_readers([points]))
        points.selectionChanged.connect(self._layer_selection_changed)
        self.refresh()

    def shutdown(self) -> None:
        """Before the panel goes (unloading the plugin): no fit runs on or calls back."""
        self._poll.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def clear(self, message: str) -> None:
        """No run to review (it did not align): an empty table and why."""
        self.session = None
        self._generation += 1  # a fit still running belongs to the previous run
        self.table.setRowCount(0)
        self.rmse_label.setText(message)
        self.chips.clear()
        self.chips.new_button.setEnabled(False)

    def set_transform(self, transform: str) -> None:
        self.transform = transform
        if self.session is not None:
            self.refresh()

    def schedule_refresh(self, *args) -> None:
        self._refresh_timer.start()

    # ---- recompute and fill --------------------------------------------------------------------
    def refresh(self) -> None:
        """Read the points as they are on screen, show them, and re-fit in the background: the table and the
        chips follow at once, the residuals, suspects and RMSE when the fit returns (`fitted`). Edits that come
        while a fit runs are coalesced: only the latest state is fitted next."""
        session = self.session
        if session is None or not self._alive():
            return
        session.read()
        self._generation += 1
        self._fill_table()
        self.rmse_label.setText(session.summary())
        self._show_chips()
        self._waiting = (self._generation, session.job(self.transform))
        if self._running is None:
            self._start_fit()

    def _alive(self) -> bool:
        """Whether the session's layers still exist (the analyst may remove them while a fit runs)."""
        if any(sip.isdeleted(layer) for layer in (self.session.run.points, self.session.run.links)):
            self.session = None
            self.table.setRowCount(0)
            self.rmse_label.setText(self.tr("The tie-point layers of this run were removed from the project."))
            return False
        return True

    @property
    def fitting(self) -> bool:
        """A fit is running or waiting."""
        return self._running is not None or self._waiting is not None

    def _start_fit(self) -> None:
        generation, job = self._waiting
        self._waiting = None
        self._running = (generation, self._pool.submit(job))
        self._poll.start()

    def _collect(self) -> None:
        generation, future = self._running
        if not future.done():
            return
        self._poll.stop()
        self._running = None
        if self._waiting is not None:  # the points changed meanwhile: this fit is stale
            self._start_fit()
            return
        if generation != self._generation or self.session is None:
            return
        if not self._alive():
            return
        try:
            fit = future.result()
        except Exception as exc:  # noqa: BLE001 (shown, not raised: the review goes on)
            fit = ReviewFit("", np.full((len(self.session.px), 2), np.nan), f"The re-fit failed: {exc}",
                            np.full(len(self.session.px), np.nan), np.zeros(len(self.session.px), bool))
        session = self.session
        session.fit = fit
        points = session.run.points
        selected = points.selectedFeatureIds()
        self._filling = True  # writing the fields reloads the layers, which drops their selection: restored
        write_review_fields(points, session.run.links, session.rows, session.residual, session.off_global,
                            session.suspect)
        points.selectByIds(selected)
        self._filling = False
        self._fill_fit_columns()
        self.rmse_label.setText(session.summary())
        self.changed.emit()
        self.fitted.emit()

    def _fill_fit_columns(self) -> None:
        """The fit's columns (residual, off global) in place, in whatever order the table is sorted."""
        session = self.session
        residual = np.hypot(session.residual[:, 0], session.residual[:, 1])
        index = {int(pid): k for k, pid in enumerate(session.rows.ids)}
        self.table.blockSignals(True)
        self.table.setSortingEnabled(False)
        for r in range(self.table.rowCount()):
            k = index.get(self._row_id(r))
            for c, value in ((4, residual), (5, session.off_global)):
                v = value[k] if k is not None else np.nan
                self.table.item(r, c).setData(Qt.ItemDataRole.DisplayRole, round(float(v), 2) if np.isfinite(v) else None)
        self.table.setSortingEnabled(True)
        self.table.blockSignals(False)
        self.table.viewport().update()

    def _fill_table(self) -> None:
        session, rows = self.session, self.session.rows
        residual = np.hypot(session.residual[:, 0], session.residual[:, 1])
        keep = set(self.selected_ids()) if self.table.rowCount() else set()
        self._filling = True
        self.table.blockSignals(True)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for r in range(len(rows)):
            values = (int(rows.ids[r]), None, session.disp[r, 0], session.disp[r, 1], residual[r],
                      session.off_global[r], rows.score[r])
            for c, value in enumerate(values):
                item = QTableWidgetItem()
                if c == 1:
                    item.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                    item.setCheckState(Qt.CheckState.Checked if rows.enabled[r] else Qt.CheckState.Unchecked)
                else:
                    item.setData(Qt.ItemDataRole.DisplayRole, value if c == 0 else round(float(value), 2)
                                 if np.isfinite(value) else None)
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(r, c, item)
        self.table.setSortingEnabled(True)
        self.table.blockSignals(False)
        self.table.viewport().update()
        self._select_rows(keep)
        self._filling = False

    # ---- edits from the table ------------------------------------------------------------------
    def _row_id(self, row: int) -> int:
        return int(self.table.item(row, 0).data(Qt.ItemDataRole.DisplayRole))

    def selected_ids(self):
        return sorted({self._row_id(i.row()) for i in self.table.selectedItems()})

    def _item_changed(self, item) -> None:
        if self._filling or item.column() != 1 or self.session is None:
            return
        set_enabled((self.session.run.points, self.session.run.links), [self._row_id(item.row())],
                    item.checkState() == Qt.CheckState.Checked)
        self.schedule_refresh()

    def set_enabled(self, ids, value: bool) -> None:
        rows = self.session.rows
        was = dict(zip(rows.ids.tolist(), rows.enabled.tolist()))
        ids = [int(i) for i in ids if int(i) in was]
        if not ids:
            return
        self._undo.append((ids, [was[i] for i in ids]))
        self.undo_button.setEnabled(True)
        set_enabled((self.session.run.points, self.session.run.links), ids, value)
        self.refresh()

    def disable_suspect(self) -> None:
        if self.session is not None:
            rows = self.session.rows
            self.set_enabled(rows.ids[rows.enabled & self.session.suspect], False)

    def disable_below(self, minimum: float) -> None:
        if self.session is not None:
            rows = self.session.rows
            self.set_enabled(rows.ids[rows.enabled & (rows.score < minimum)], False)

    def undo(self) -> None:
        if self.session is None or not self._undo:
            return
        ids, values = self._undo.pop()
        for value in (True, False):
            chosen = [i for i, v in zip(ids, values) if v == value]
            if chosen:
                set_enabled((self.session.run.points, self.session.run.links), chosen, value)
        self.undo_button.setEnabled(bool(self._undo))
        self.refresh()

    def set_selected_enabled(self, value: bool) -> None:
        if self.session is not None and self.selected_ids():
            self.set_enabled(self.selected_ids(), value)

    def delete_selected(self) -> None:
        if self.session is None or not self.selected_ids():
            return
        rows = self.session.rows
        ids = self.selected_ids()
        for layer, fids in ((self.session.run.points, rows.point_fids), (self.session.run.links, rows.link_fids)):
            doomed = [fids[i] for i in ids if i in fids]
            if layer.isEditable():
                layer.deleteFeatures(doomed)
            else:
                layer.dataProvider().deleteFeatures(doomed)
                layer.triggerRepaint()
        reopen_readers([self.session.run.points, self.session.run.links])
        self.refresh()

    # ---- selection both ways, zoom -------------------------------------------------------------
    def _table_selection_changed(self) -> None:
        if self._filling or self.session is None:
            return
        fids = [self.session.rows.point_fids[i] for i in self.selected_ids()]
        self._filling = True
        self.session.run.points.selectByIds(fids)
        self._filling = False
        self._show_chips()

    def _layer_selection_changed(self, *args) -> None:
        if self._filling or self.session is None:
            return
        by_fid = {fid: pid for pid, fid in self.session.rows.point_fids.items()}
        chosen = {by_fid.get(fid) for fid in self.session.run.points.selectedFeatureIds()}
        self._filling = True
        self._select_rows(chosen)
        self._filling = False
        self._show_chips()

    def _select_rows(self, ids) -> None:
        self.table.clearSelection()
        mode = self.table.selectionMode()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.MultiSelection)
        for r in range(self.table.rowCount()):
            if self._row_id(r) in ids:
                self.table.selectRow(r)
        self.table.setSelectionMode(mode)

    # ---- the chip viewer -----------------------------------------------------------------------
    def _show_chips(self) -> None:
        """The chips of the one selected point (none for zero or several)."""
        ids = self.selected_ids() if self.session is not None else []
        eo, sar = self.chip_layers()
        rows = self.session.rows if self.session is not None else None
        if len(ids) != 1 or eo is None or sar is None or rows is None or ids[0] not in rows.point_fids:
            self.chips.clear()
            return
        k = list(rows.ids).index(ids[0])
        pixel = (self.session.to_pixel.pixel_size, self.session.to_pixel.pixel_height)
        self.chips.show_point(ids[0], rows.eo_xy[k], rows.sar_xy[k], self.session.disp[k], eo, sar, pixel,
                              self.session.run.points.crs())

    def add_point(self, eo_xy, sar_xy) -> None:
        """A tie point of the analyst's: enabled, confidence 1, in both layers (their edit buffers when edited)."""
        session = self.session
        if session is None:
            return
        pid = int(session.rows.ids.max()) + 1 if len(session.rows) else 1
        eo_px, sar_px = session.to_pixel(np.array([eo_xy, sar_xy], np.float64))
        values = {"id": pid, "eo_x": eo_xy[0], "eo_y": eo_xy[1], "sar_x": sar_xy[0], "sar_y": sar_xy[1],
                  "dx": float(sar_px[0] - eo_px[0]), "dy": float(sar_px[1] - eo_px[1]), "score": 1.0, "inlier": 1,
                  "enabled": 1}
        shapes = {session.run.points: QgsGeometry.fromPointXY(QgsPointXY(*eo_xy)),
                  session.run.links: QgsGeometry.fromPolylineXY([QgsPointXY(*eo_xy), QgsPointXY(*sar_xy)])}
        for layer, geometry in shapes.items():
            feature = QgsFeature(layer.fields())
            for name, value in values.items():
                feature[name] = value
            feature.setGeometry(geometry)
            if layer.isEditable():
                layer.addFeature(feature)
            else:
                layer.dataProvider().addFeatures([feature])
                layer.triggerRepaint()
        reopen_readers([session.run.points, session.run.links])
        self.refresh()
        session.run.points.selectByIds([session.rows.point_fids[pid]])

    def move_sar_end(self, point_id: int, xy) -> None:
        """Move the SAR end of a link, the EO end staying."""
        k = list(self.session.rows.ids).index(int(point_id))
        self.move_ends(point_id, tuple(self.session.rows.eo_xy[k]), xy)

    def move_ends(self, point_id: int, eo_xy, sar_xy) -> None:
        """Move a tie point's EO end (the point and the link's start) and SAR end (the link's end), in the edit
        buffers when the layers are being edited."""
        session = self.session
        pid = int(point_id)
        shapes = {(session.run.points, session.rows.point_fids[pid]): QgsGeometry.fromPointXY(QgsPointXY(*eo_xy)),
                  (session.run.links, session.rows.link_fids[pid]):
                      QgsGeometry.fromPolylineXY([QgsPointXY(*eo_xy), QgsPointXY(*sar_xy)])}
        for (layer, fid), geometry in shapes.items():
            if layer.isEditable():
                layer.changeGeometry(fid, geometry)
            else:
                layer.dataProvider().changeGeometryValues({fid: geometry})
                layer.triggerRepaint()
        reopen_readers([session.run.points, session.run.links])  # a reload drops the selection: restored below
        self.refresh()
        session.run.points.selectByIds([session.rows.point_fids[pid]])

    def _zoom_to_row(self, row: int, column: int) -> None:
        if self.session is None or self.canvas is None:
            return
        k = list(self.session.rows.ids).index(self._row_id(row))
        (x0, y0), (x1, y1) = self.session.rows.eo_xy[k], self.session.rows.sar_xy[k]
        pad = max(abs(x1 - x0), abs(y1 - y0)) * 1.5 + 25 * self.session.to_pixel.pixel_size
        rect = QgsRectangle(min(x0, x1) - pad, min(y0, y1) - pad, max(x0, x1) + pad, max(y0, y1) + pad)
        to_canvas = QgsCoordinateTransform(self.session.run.points.crs(), self.canvas.mapSettings().destinationCrs(),
                                           QgsProject.instance())
        self.canvas.setExtent(to_canvas.transformBoundingBox(rect))
        self.canvas.refresh()
