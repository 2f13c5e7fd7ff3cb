"""The coregistration dock: the layout of the choices, the review and the compare tool. Its runs (worker commands
in a WorkerTask) go through a RunController, which has no widgets; the dock shows what it says."""

from __future__ import annotations

import os
from contextlib import suppress
from typing import Optional

from qgis.core import (
    Qgis,
    QgsMapLayerProxyModel,
    QgsProject,
    QgsSettings,
)
from qgis.gui import QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt import sip
from qgis.PyQt.QtCore import Qt, QTimer
from qgis.PyQt.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..bridge.tiepoint_layers import source_path, sync_layers
from ..core.choices import DEVICES, RESAMPLINGS, Matcher, Transform
from ..core.request import MAX_POINTS_RANGE, ApplyParams, CoregParams, in_field_words
from ..core.residual_report import residual_report_html, write_residual_report
from .compare_controls import CompareControls
from .controller import RunController, default_output_base
from .map_view import hide_earlier_runs, zoom_to_features, zoom_to_overlap
from .review import ReviewPanel
from .review_state import ReviewSession
from .verdict import VerdictBanner


def _add_transforms(combo: QComboBox) -> None:
    """The transforms by short names; what each does in its tooltip."""
    for kind in Transform:
        combo.addItem(kind.short, kind.value)
        combo.setItemData(combo.count() - 1, kind.label, Qt.ItemDataRole.ToolTipRole)


class CoregDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__(parent or iface.mainWindow())
        self.setWindowTitle(self.tr("SAR–EO Coregistration"))
        self.setObjectName("SarEoCoregDock")
        self.iface = iface
        self.controller = RunController(self)
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_run_tab(), self.tr("Coregister"))
        self.review = ReviewPanel(self)
        self.tabs.addTab(self._build_review_tab(), self.tr("Review tie points"))
        self.setWidget(self.tabs)
        self._connect_controller()
        self.visibilityChanged.connect(lambda visible: visible and self.detect_device())
        self.restore_options()

    def _connect_controller(self) -> None:
        c = self.controller
        c.said.connect(self.say)
        c.logged.connect(self.log.appendPlainText)
        c.status_changed.connect(self.status.setText)
        c.progressed.connect(self.progress.setValue)
        c.busy.connect(self._set_running)
        c.loaded.connect(self._bind_review)
        c.aligned_changed.connect(lambda: self.compare.refresh())
        c.environment_checked.connect(self._environment_checked)
        c.verdict.connect(self._show_verdict)
        for banner in (self.run_banner, self.review_banner):
            banner.zoom_requested.connect(self.zoom_to_fallback)

    @property
    def task(self):
        return self.controller.task

    @property
    def run(self):
        return self.controller.run

    # ---- layout --------------------------------------------------------------------------------
    # ---- options remembered between sessions (QgsSettings) ------------------------------------------
    OPTIONS_KEY = "sar_eo_coreg/dock/"

    def _option_widgets(self):
        """name -> (getter, setter) of the options the dock remembers."""
        def combo(widget, by_data=False):
            get = (lambda: widget.currentData()) if by_data else widget.currentText
            find = widget.findData if by_data else widget.findText
            return get, lambda value: widget.setCurrentIndex(max(find(value), 0))

        return {"matcher": combo(self.matcher), "device": combo(self.device), "transform": combo(self.transform, True),
                "resampling": combo(self.resampling), "model": (self.model.text, self.model.setText),
                "radius": (self.radius.value, lambda v: self.radius.setValue(float(v))),
                "max_points": (self.max_points.value, lambda v: self.max_points.setValue(int(v))),
                "output": (self.output.filePath, self.output.setFilePath)}

    def save_options(self) -> None:
        for name, (get, _) in self._option_widgets().items():
            QgsSettings().setValue(self.OPTIONS_KEY + name, get())

    def restore_options(self) -> None:
        settings = QgsSettings()
        for name, (_, put) in self._option_widgets().items():
            value = settings.value(self.OPTIONS_KEY + name, None)
            if value not in (None, ""):
                with suppress(TypeError, ValueError):  # a hand-edited or old setting: keep the default
                    put(value)

    def _build_run_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.run_banner = VerdictBanner(page)
        layout.addWidget(self.run_banner)
        inputs = QGroupBox(self.tr("Inputs"), page)
        form = QFormLayout(inputs)
        self.eo_combo = QgsMapLayerComboBox(inputs)
        self.sar_combo = QgsMapLayerComboBox(inputs)
        for combo in (self.eo_combo, self.sar_combo):
            combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
        self.eo_band = QComboBox(inputs)
        self.eo_combo.layerChanged.connect(self._fill_bands)
        form.addRow(self.tr("EO (optical) layer"), self.eo_combo)
        form.addRow(self.tr("EO band"), self.eo_band)
        form.addRow(self.tr("SAR layer"), self.sar_combo)
        layout.addWidget(inputs)

        options = QGroupBox(self.tr("Options"), page)
        form = QFormLayout(options)
        self.matcher = QComboBox(options)
        self.matcher.addItems(Matcher.names())
        self.matcher.setToolTip(self.tr("Descriptors of the dense engine. {choices}").format(choices=Matcher.help()))
        self.model = QLineEdit(options)
        self.model.setPlaceholderText(self.tr("default"))
        self.model.setToolTip(self.tr("Model name (NAME.json with its .onnx files, in the profile's sar_eo_coreg/weights "
                                      "or SAR_EO_COREG_WEIGHTS) or a .json path"))
        self.matcher.currentTextChanged.connect(lambda name: self.model.setEnabled(Matcher(name).needs_model))
        self.model.setEnabled(False)
        self.device = QComboBox(options)
        self.device.addItems(DEVICES)
        self.device_label = QLabel(self.tr("Device: not checked yet"), options)
        self.device_label.setObjectName("device_label")
        self.device_label.setWordWrap(True)  # a long line would push the dock past the screen edge
        self.worker_missing: Optional[list] = None  # packages the worker lacks; None: not checked yet
        self.radius = QDoubleSpinBox(options)
        self.radius.setRange(0, 100000)
        self.radius.setDecimals(0)
        self.radius.setSuffix(" m")
        self.radius.setSpecialValueText(self.tr("automatic"))
        self.radius.setToolTip(self.tr("How far apart the EO and SAR may be. Automatic: 15 % of the overlap's larger "
                                       "side."))
        self.max_points = QSpinBox(options)
        self.max_points.setRange(*MAX_POINTS_RANGE)
        self.max_points.setValue(CoregParams.max_points)
        self.max_points.setToolTip(self.tr("Tie points at the finest level, at most: more is denser and slower."))
        self.transform = QComboBox(options)
        _add_transforms(self.transform)
        self.resampling = QComboBox(options)
        self.resampling.addItems(RESAMPLINGS)
        self.output = QgsFileWidget(options)
        self.output.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output.setFilePath(default_output_base())
        self.output.setToolTip(self.tr("Each run writes a sub-folder named after the run."))
        form.addRow(self.tr("Matcher"), self.matcher)
        form.addRow(self.tr("Model"), self.model)
        form.addRow(self.tr("Device"), self.device)
        form.addRow("", self.device_label)
        form.addRow(self.tr("Search radius"), self.radius)
        form.addRow(self.tr("Tie points (at most)"), self.max_points)
        form.addRow(self.tr("Transform"), self.transform)
        form.addRow(self.tr("Resampling"), self.resampling)
        form.addRow(self.tr("Output folder"), self.output)
        layout.addWidget(options)

        buttons = QHBoxLayout()
        self.run_button = QPushButton(self.tr("Coregister"), page)
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton(self.tr("Cancel"), page)
        self.cancel_button.setEnabled(False)
        self.settings_button = QPushButton(self.tr("Settings…"), page)
        self.run_button.clicked.connect(self._run_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.settings_button.clicked.connect(self.open_settings)
        for button in (self.run_button, self.cancel_button, self.settings_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.progress = QProgressBar(page)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel(self.tr("Choose an EO and a SAR layer, then Coregister."), page)
        self.status.setObjectName("status_label")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit(page)
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText(self.tr("Messages from the run"))
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        return page

    def _build_review_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        self.review_banner = VerdictBanner(page)
        layout.addWidget(self.review_banner)
        row = QHBoxLayout()
        row.addWidget(QLabel(self.tr("Transform"), page))
        self.review_transform = QComboBox(page)
        _add_transforms(self.review_transform)
        self.review_transform.currentIndexChanged.connect(
            lambda: self.review.set_transform(self.review_transform.currentData()))
        row.addWidget(self.review_transform, 1)
        layout.addLayout(row)
        layout.addWidget(self.review, 1)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton(self.tr("Apply && export"), page)
        self.apply_button.setToolTip(self.tr("Re-fit from the enabled points, write the aligned SAR and load it."))
        self.import_button = QPushButton(self.tr("Import…"), page)
        self.import_button.setToolTip(self.tr("Load tie points from a Georeferencer .points, SpaceNet 9 .csv or .gpkg file."))
        self.export_button = QPushButton(self.tr("Export…"), page)
        self.export_button.setToolTip(self.tr("Save the reviewed tie points as Georeferencer .points or SpaceNet 9 .csv."))
        self.report_button = QPushButton(self.tr("Report…"), page)
        self.report_button.setToolTip(self.tr("Save a residual report (HTML, prints to PDF) of the points as shown."))
        self.apply_button.clicked.connect(self.apply_edits)
        self.import_button.clicked.connect(lambda: self.import_tiepoints())
        self.export_button.clicked.connect(lambda: self.export_tiepoints())
        self.report_button.clicked.connect(lambda: self.residual_report())
        for button in (self.apply_button, self.import_button, self.export_button, self.report_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.compare = CompareControls(self.iface.mapCanvas(), self.sar_combo.currentLayer, self._aligned_layer,
                                       lambda: self.run is not None and self.run.verdict != "not_aligned",
                                       self.say, page)
        layout.addWidget(self.compare)
        return page

    def _fill_bands(self, layer) -> None:
        self.eo_band.clear()
        if layer is None:
            return
        count = layer.bandCount()
        if count >= 3:
            self.eo_band.addItem(self.tr("Luminance of bands 1–3 (RGB)"), None)
        for band in range(1, count + 1):
            name = layer.bandName(band)
            self.eo_band.addItem(name if name.startswith(f"Band {band}") else f"Band {band}: {name}", band)

    # ---- environment ---------------------------------------------------------------------------
    def detect_device(self) -> None:
        self.controller.detect_device()

    def _environment_checked(self, text: str) -> None:
        self.device_label.setText(text)
        if self.controller.missing is None:  # still checking
            return
        ready = not self.controller.missing
        self.run_button.setText(self.tr("Coregister") if ready else self.tr("Set up environment…"))
        self.run_button.setToolTip("" if ready else self.tr("Opens the settings, where one click installs the "
                                                            "engine's packages into a Python environment of the plugin."))

    def _run_clicked(self) -> None:
        """Coregister, or, while the worker lacks packages, the environment set-up: never a run that would fail
        on an import."""
        if self.controller.missing:
            self.open_settings()
        else:
            self.start_coregistration()

    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        SettingsDialog(self).exec_()
        self.detect_device()

    # ---- running -------------------------------------------------------------------------------
    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(in_field_words(text))
        self.log.appendPlainText(self.status.text())
        if error:
            self.iface.messageBar().pushMessage(self.windowTitle(), self.status.text(), Qgis.Warning, 8)

    def request(self) -> CoregParams:
        """The request the options on screen make."""
        band = self.eo_band.currentData()
        return CoregParams(
            matcher=self.matcher.currentText(), model=self.model.text().strip() or None,
            device=self.device.currentText(), transform=self.transform.currentData(),
            resampling=self.resampling.currentText(), max_points=self.max_points.value(),
            search_radius_m=self.radius.value() or None, eo_bands=(band,) if band is not None else None)

    def start_coregistration(self) -> None:
        if self.controller.coregister(self.eo_combo.currentLayer(), self.sar_combo.currentLayer(),
                                      self.output.filePath(), self.request()):
            self.save_options()

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.apply_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def cancel(self) -> None:
        self.controller.cancel()

    def _bind_review(self) -> None:
        """A new run is on screen: earlier runs leave the view; an aligned run is reviewed and compared with the
        EO (swipe); a run that did not align has nothing to review."""
        hide_earlier_runs(self.run.layers.group if self.run.layers is not None else None)
        index = self.review_transform.findData(self.transform.currentData())
        self.review_transform.setCurrentIndex(max(index, 0))
        self.review.transform = self.review_transform.currentData()
        if self.run.verdict == "not_aligned":
            self.review.clear(self.tr("Not aligned: there are no tie points to review. The outputs keep the input "
                                      "georeference."))
            self.compare.show_run(False)
            zoom_to_overlap(self.iface.mapCanvas(), self.eo_combo.currentLayer(), self.sar_combo.currentLayer())
            return
        if self.run.verdict is None:  # imported tie points: no verdict of the engine's
            for banner in (self.run_banner, self.review_banner):
                banner.clear()
        eo_id, sar_id = (layer.id() if layer else None for layer in (self.eo_combo.currentLayer(),
                                                                     self.sar_combo.currentLayer()))
        self.review.chip_layers = lambda: (QgsProject.instance().mapLayer(eo_id), QgsProject.instance().mapLayer(sar_id))
        self.review.bind(ReviewSession(self.run.layers, self.run.eo_path), self.iface.mapCanvas())
        if self.run.verdict is not None:
            self.compare.show_run(True)
            zoom_to_overlap(self.iface.mapCanvas(), self.eo_combo.currentLayer(), self.sar_combo.currentLayer())
        else:
            self.compare.refresh()
        self.tabs.setCurrentIndex(1)

    def _show_verdict(self, verdict: str, text: str, details: str) -> None:
        for banner in (self.run_banner, self.review_banner):
            banner.show_verdict(verdict, text, details)
        if verdict == "not_aligned":  # after QGIS's own "Task complete", so that it shows on top
            QTimer.singleShot(0, lambda: self.iface.messageBar().pushMessage(self.windowTitle(), text, Qgis.Critical, 0))

    def zoom_to_fallback(self) -> None:
        """Zoom the map to the regions where the self-check kept the global model."""
        if self.run is not None and self.run.layers is not None:
            zoom_to_features(self.iface.mapCanvas(), self.run.layers.fallback)

    def _aligned_layer(self):
        """The run's aligned SAR layer, None when there is none (or the analyst removed it)."""
        layer = self.run.layers.aligned if self.run is not None and self.run.layers is not None else None
        return None if layer is None or sip.isdeleted(layer) else layer

    # ---- apply, import, export -----------------------------------------------------------------
    def _synced_gpkg(self) -> Optional[str]:
        if self.run is None or self.run.layers is None:
            self.say(self.tr("Run a coregistration (or import tie points) first."), error=True)
            return None
        try:
            sync_layers(self.run.layers.points, self.run.layers.links, self.review.session.to_pixel)
        except ValueError as exc:
            self.say(str(exc), error=True)
            return None
        return source_path(self.run.layers.points)

    def apply_edits(self) -> None:
        if self.task is not None:
            return
        gpkg = self._synced_gpkg()
        if gpkg is not None:
            self.controller.apply(gpkg, ApplyParams(transform=self.review_transform.currentData(),
                                                    resampling=self.resampling.currentText()))

    def import_tiepoints(self, path: Optional[str] = None) -> None:
        """Load tie points from a .points, SpaceNet 9 .csv or .gpkg file as a new run for review."""
        if self.task is not None:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, self.tr("Import tie points"), "",
                                                  self.tr("Tie points (*.points *.csv *.gpkg)"))
            if not path:
                return
        self.controller.import_tiepoints(path, self.eo_combo.currentLayer(), self.sar_combo.currentLayer(),
                                         self.output.filePath())

    def export_tiepoints(self, path: Optional[str] = None) -> None:
        """Save the reviewed points as a Georeferencer .points or SpaceNet 9 .csv file."""
        if self.task is not None or self.run is None:
            self.say(self.tr("Nothing to export yet: run a coregistration first."), error=self.run is None)
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, self.tr("Export tie points"), self.run.out_dir,
                                                  self.tr("QGIS Georeferencer (*.points);;SpaceNet 9 tie points (*.csv)"))
            if not path:
                return
        gpkg = self._synced_gpkg()
        if gpkg is not None:
            self.controller.export_tiepoints(path, gpkg)

    def residual_report(self, path: Optional[str] = None) -> None:
        """Save the review's residual report (HTML), as the Georeferencer writes one."""
        table = self.review.session.residual_table() if self.review.session is not None else None
        if self.run is None or table is None:
            self.say(self.tr("Nothing to report yet: run a coregistration and wait for the fit."), error=True)
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, self.tr("Residual report"),
                                                  os.path.join(self.run.out_dir, "residuals.html"),
                                                  self.tr("HTML report (*.html)"))
            if not path:
                return
        details = {"EO": self.run.eo_path, "SAR": self.run.sar_path, "Run folder": self.run.out_dir,
                   "CRS of the coordinates": self.run.layers.points.crs().authid(),
                   "Verdict": self.run_banner.label.text() if self.run.verdict else "imported tie points"}
        _, _, last_col, last_row = self.review.session.to_pixel.extent
        page = residual_report_html(table, f"Residual report: {self.run.name}", self.review.session.summary(),
                                    details, (int(last_col) + 1, int(last_row) + 1))
        try:
            write_residual_report(path, page)
            self.say(self.tr("Residual report written: {path}").format(path=path))
        except OSError as exc:
            self.say(self.tr("Cannot write the report: {error}").format(error=exc), error=True)

    def closeEvent(self, event):  # noqa: N802 (Qt's name)
        if self.task is not None:
            answer = QMessageBox.question(self, self.windowTitle(), self.tr("A run is in progress. Cancel it and "
                                                                            "close the panel?"),
                                          QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                event.ignore()
                return
            self.cancel()
        self.compare.remove()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Before the panel is deleted (unloading the plugin): nothing of it stays on the canvas or calls back."""
        self.controller.stop_checks()
        self.review.shutdown()
        self.compare.remove()
