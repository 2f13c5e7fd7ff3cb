"""The coregistration dock: pick layers and options, run in the background, review and edit tie points,
apply and export. Every run is a worker command (`python -m sar_eo_coreg ...`) in a WorkerTask."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from qgis.core import Qgis, QgsApplication, QgsMapLayerProxyModel, QgsProject, QgsRasterLayer, QgsSettings
from qgis.gui import QgsDockWidget, QgsFileWidget, QgsMapLayerComboBox
from qgis.PyQt.QtCore import QProcess, Qt
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
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..bridge.settings import worker_python, worker_qprocess
from ..bridge.tiepoint_layers import RunLayers, add_raster, add_run_layers, crs_args, source_path, style_aligned, sync_layers
from ..bridge.worker import engine_command
from ..core.choices import DEVICES, RESAMPLINGS, Matcher, Transform
from ..core.outputs import ALIGNED_FILE, TIEPOINTS_GPKG
from ..core.report import CoregReport
from ..core.request import CoregParams
from .compare import CompareItem
from .review import ReviewPanel, ReviewSession
from .task import WorkerTask


@dataclass
class Run:
    """One coregistration on screen: its folder, inputs and layers."""

    name: str
    out_dir: str
    eo_path: str
    sar_path: str
    crs_args: list  # --eo-crs/--sar-crs when a layer's CRS (set in QGIS) is not its file's
    layers: Optional[RunLayers] = None
    applied: int = 0

    @property
    def inputs(self) -> list:
        return ["--eo", self.eo_path, "--sar", self.sar_path, *self.crs_args]


def default_output_base() -> str:
    """A folder next to the project ("<project folder>/coregistration"), else in the home folder."""
    home = QgsProject.instance().absolutePath() or os.path.expanduser("~")
    return os.path.join(home, "coregistration")


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def run_name(eo_name: str, sar_name: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{sar_name}_to_{eo_name}").strip("_")[:60]
    return f"{safe}_{stamp}"


class CoregDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("SAR–EO Coregistration", parent or iface.mainWindow())
        self.setObjectName("SarEoCoregDock")
        self.iface = iface
        self.task: Optional[WorkerTask] = None
        self.run: Optional[Run] = None
        self._env_process: Optional[QProcess] = None
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._build_run_tab(), "Coregister")
        self.review = ReviewPanel(self)
        self.tabs.addTab(self._build_review_tab(), "Review tie points")
        self.setWidget(self.tabs)
        self.visibilityChanged.connect(lambda visible: visible and self.detect_device())
        self.restore_options()

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
        settings = QgsSettings()
        for name, (get, _) in self._option_widgets().items():
            settings.setValue(self.OPTIONS_KEY + name, get())

    def restore_options(self) -> None:
        settings = QgsSettings()
        for name, (_, put) in self._option_widgets().items():
            value = settings.value(self.OPTIONS_KEY + name, None)
            if value not in (None, ""):
                try:
                    put(value)
                except (TypeError, ValueError):  # a hand-edited or old setting: keep the default
                    pass

    def _build_run_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        inputs = QGroupBox("Inputs", page)
        form = QFormLayout(inputs)
        self.eo_combo = QgsMapLayerComboBox(inputs)
        self.sar_combo = QgsMapLayerComboBox(inputs)
        for combo in (self.eo_combo, self.sar_combo):
            combo.setFilters(QgsMapLayerProxyModel.RasterLayer)
            combo.setAllowEmptyLayer(True)
            combo.setLayer(None)
        self.eo_band = QComboBox(inputs)
        self.eo_combo.layerChanged.connect(self._fill_bands)
        form.addRow("EO (optical) layer", self.eo_combo)
        form.addRow("EO band", self.eo_band)
        form.addRow("SAR layer", self.sar_combo)
        layout.addWidget(inputs)

        options = QGroupBox("Options", page)
        form = QFormLayout(options)
        self.matcher = QComboBox(options)
        self.matcher.addItems(Matcher.names())
        self.matcher.setToolTip(f"Descriptors of the dense engine. {Matcher.help()}")
        self.model = QLineEdit(options)
        self.model.setPlaceholderText("default")
        self.model.setToolTip("Weights name (in the profile's sar_eo_coreg/weights or SAR_EO_COREG_WEIGHTS) or a .pt path")
        self.matcher.currentTextChanged.connect(lambda name: self.model.setEnabled(Matcher(name).needs_model))
        self.model.setEnabled(False)
        self.device = QComboBox(options)
        self.device.addItems(DEVICES)
        self.device_label = QLabel("Device: not checked yet", options)
        self.device_label.setObjectName("device_label")
        self.device_label.setWordWrap(True)  # a long line would push the dock past the screen edge
        self.worker_missing: Optional[list] = None  # packages the worker lacks; None: not checked yet
        self.radius = QDoubleSpinBox(options)
        self.radius.setRange(0, 100000)
        self.radius.setDecimals(0)
        self.radius.setSuffix(" m")
        self.radius.setSpecialValueText("automatic (15% of the overlap)")
        self.max_points = QSpinBox(options)
        self.max_points.setRange(20, 20000)
        self.max_points.setValue(CoregParams.max_points)
        self.max_points.setToolTip("Tie points at the finest level, at most: more is denser and slower.")
        self.transform = QComboBox(options)
        for kind in Transform:
            self.transform.addItem(kind.label, kind.value)
        self.resampling = QComboBox(options)
        self.resampling.addItems(RESAMPLINGS)
        self.output = QgsFileWidget(options)
        self.output.setStorageMode(QgsFileWidget.StorageMode.GetDirectory)
        self.output.setFilePath(default_output_base())
        self.output.setToolTip("Each run writes a sub-folder named after the run.")
        form.addRow("Matcher", self.matcher)
        form.addRow("Model", self.model)
        form.addRow("Device", self.device)
        form.addRow("", self.device_label)
        form.addRow("Search radius", self.radius)
        form.addRow("Tie points (at most)", self.max_points)
        form.addRow("Transform", self.transform)
        form.addRow("Resampling", self.resampling)
        form.addRow("Output folder", self.output)
        layout.addWidget(options)

        buttons = QHBoxLayout()
        self.run_button = QPushButton("Coregister", page)
        self.run_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", page)
        self.cancel_button.setEnabled(False)
        self.settings_button = QPushButton("Settings…", page)
        self.run_button.clicked.connect(self._run_clicked)
        self.cancel_button.clicked.connect(self.cancel)
        self.settings_button.clicked.connect(self.open_settings)
        for button in (self.run_button, self.cancel_button, self.settings_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.progress = QProgressBar(page)
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.status = QLabel("Choose an EO and a SAR layer, then Coregister.", page)
        self.status.setObjectName("status_label")
        self.status.setWordWrap(True)
        self.log = QPlainTextEdit(page)
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(2000)
        self.log.setPlaceholderText("Messages from the run")
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.log, 1)
        return page

    def _build_review_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        row = QHBoxLayout()
        row.addWidget(QLabel("Transform", page))
        self.review_transform = QComboBox(page)
        for kind in Transform:
            self.review_transform.addItem(kind.label, kind.value)
        self.review_transform.currentIndexChanged.connect(
            lambda: self.review.set_transform(self.review_transform.currentData()))
        row.addWidget(self.review_transform, 1)
        layout.addLayout(row)
        layout.addWidget(self.review, 1)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton("Apply && export", page)
        self.apply_button.setToolTip("Re-fit from the enabled points, write the aligned SAR and load it.")
        self.import_button = QPushButton("Import…", page)
        self.import_button.setToolTip("Load tie points from a Georeferencer .points, SpaceNet 9 .csv or .gpkg file.")
        self.export_button = QPushButton("Export…", page)
        self.export_button.setToolTip("Save the reviewed tie points as Georeferencer .points or SpaceNet 9 .csv.")
        self.apply_button.clicked.connect(self.apply_edits)
        self.import_button.clicked.connect(lambda: self.import_tiepoints())
        self.export_button.clicked.connect(lambda: self.export_tiepoints())
        for button in (self.apply_button, self.import_button, self.export_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        layout.addLayout(self._build_compare_row(page))
        return page

    def _build_compare_row(self, page) -> QHBoxLayout:
        """Compare in the canvas: the aligned or the input SAR over the map through a swipe or a checkerboard."""
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare", page))
        self.compare_mode = QComboBox(page)
        for label, mode in (("off", None), ("swipe", "swipe"), ("checkerboard", "checkerboard")):
            self.compare_mode.addItem(label, mode)
        self.compare_mode.setToolTip("Draw a SAR over the map through a swipe line or a checkerboard, to follow "
                                     "edges from the EO into the SAR.")
        self.compare_layer = QComboBox(page)
        self.compare_layer.addItem("aligned SAR", "aligned")
        self.compare_layer.addItem("input SAR (before)", "input")
        self.compare_slider = QSlider(Qt.Orientation.Horizontal, page)
        self.compare_slider.setRange(0, 100)
        self.compare_slider.setValue(50)
        self.compare_slider.setToolTip("Swipe: position of the line. Checkerboard: size of the cells.")
        self.compare_mode.currentIndexChanged.connect(lambda: self.update_compare())
        self.compare_layer.currentIndexChanged.connect(lambda: self.update_compare())
        self.compare_slider.valueChanged.connect(lambda: self.update_compare())
        for widget in (self.compare_mode, self.compare_layer, self.compare_slider):
            row.addWidget(widget, 1 if widget is self.compare_slider else 0)
        self.compare_item = None
        return row

    def _compare_source(self):
        if self.compare_layer.currentData() == "input":
            return self.sar_combo.currentLayer()
        return self.run.layers.aligned if self.run is not None and self.run.layers is not None else None

    def update_compare(self) -> None:
        mode = self.compare_mode.currentData()
        source = self._compare_source() if mode else None
        if self.compare_item is not None and source is not self.compare_item.layer:
            self.compare_item.remove()
            self.compare_item = None
        if mode is None:
            return
        if source is None:
            self.say("Nothing to compare yet: run a coregistration first.", error=True)
            return
        value = self.compare_slider.value()
        value = value / 100.0 if mode == "swipe" else 8 + value * 2.4  # swipe: 0-1; checkerboard: 8-248 px
        if self.compare_item is None:
            self.compare_item = CompareItem(self.iface.mapCanvas(), source, mode)
        self.compare_item.set_mode(mode, value)

    def _fill_bands(self, layer) -> None:
        self.eo_band.clear()
        if layer is None:
            return
        count = layer.bandCount()
        if count >= 3:
            self.eo_band.addItem("Luminance of bands 1–3 (RGB)", None)
        for band in range(1, count + 1):
            name = layer.bandName(band)
            self.eo_band.addItem(name if name.startswith(f"Band {band}") else f"Band {band}: {name}", band)

    # ---- environment ---------------------------------------------------------------------------
    def detect_device(self) -> None:
        """Ask the worker which device it sees, without blocking QGIS."""
        if self._env_process is not None:
            return
        python, _ = worker_python()
        self.device_label.setText("Device: checking…")
        process = worker_qprocess(self)
        process.finished.connect(lambda *args: self._device_detected(process))
        process.errorOccurred.connect(lambda *args: self._device_detected(process))
        self._env_process = process
        command = engine_command(python, ["env"])
        process.start(command[0], command[1:])

    def _device_detected(self, process: QProcess) -> None:
        if self._env_process is not process:
            return
        self._env_process = None
        try:
            info = json.loads(bytes(process.readAllStandardOutput()).decode())
            self.worker_missing = list(info.get("missing", []))
            text = f"Detected: {info['device']}"
            if self.worker_missing:
                text = f"The worker Python lacks {', '.join(self.worker_missing)}: set up the environment first."
        except (ValueError, KeyError):
            self.worker_missing = ["a working Python with the engine's packages"]
            text = "The worker Python is not usable: set up the environment, or choose a Python in Settings…"
        self.device_label.setText(text)
        ready = not self.worker_missing
        self.run_button.setText("Coregister" if ready else "Set up environment…")
        self.run_button.setToolTip("" if ready else "Opens the settings, where one click installs the engine's "
                                   "packages into a Python environment of the plugin.")

    def _run_clicked(self) -> None:
        """Coregister, or, while the worker lacks packages, the environment set-up: never a run that would fail
        on an import."""
        if self.worker_missing:
            self.open_settings()
        else:
            self.start_coregistration()

    def open_settings(self) -> None:
        from .settings_dialog import SettingsDialog

        SettingsDialog(self).exec_()
        self.detect_device()

    # ---- running -------------------------------------------------------------------------------
    def say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.log.appendPlainText(text)
        if error:
            self.iface.messageBar().pushMessage("SAR–EO Coregistration", text, Qgis.Warning, 8)

    def check_inputs(self) -> Optional[tuple]:
        """(eo_path, sar_path, base folder) or None after telling the user what is wrong."""
        eo, sar = self.eo_combo.currentLayer(), self.sar_combo.currentLayer()
        problem = None
        if eo is None or sar is None:
            problem = "Choose an EO (optical) layer and a SAR layer first."
        elif eo.id() == sar.id() or source_path(eo) == source_path(sar):
            problem = "The EO and SAR layers are the same. Choose the optical image as EO and the radar image as SAR."
        else:
            for role, layer in (("EO", eo), ("SAR", sar)):
                if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal" \
                        or not os.path.isfile(source_path(layer)):
                    problem = f"The {role} layer '{layer.name()}' is not a raster file on disk. Save it as a GeoTIFF first."
                elif not layer.crs().isValid():
                    problem = (f"The {role} layer '{layer.name()}' has no CRS. Set it in Layer Properties ▸ Source "
                               "(it is passed to the engine), then try again.")
                if problem:
                    break
        base = self.output.filePath().strip()
        if problem is None and not base:
            problem = "Choose an output folder."
        if problem is None:
            parent = next((p for p in [Path(base), *Path(base).parents] if p.exists()), None)
            if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
                problem = f"Cannot write to the output folder {base}. Choose a writable folder."
        if problem:
            self.say(problem, error=True)
            return None
        return source_path(eo), source_path(sar), base, crs_args(eo, "eo") + crs_args(sar, "sar")

    def start_coregistration(self) -> None:
        if self.task is not None:
            self.say("A run is already in progress; cancel it first.", error=True)
            return
        if self.worker_missing:
            self.say(f"The worker Python lacks {', '.join(self.worker_missing)}. Set up the environment first "
                     "(Settings…).", error=True)
            return
        checked = self.check_inputs()
        if checked is None:
            return
        eo_path, sar_path, base, crs = checked
        name = run_name(self.eo_combo.currentLayer().name(), self.sar_combo.currentLayer().name())
        out_dir = os.path.join(base, name)
        pending = Run(name, out_dir, eo_path, sar_path, crs)
        band = self.eo_band.currentData()
        request = CoregParams(
            matcher=self.matcher.currentText(), model=self.model.text().strip() or None,
            device=self.device.currentText(), transform=self.transform.currentData(),
            resampling=self.resampling.currentText(), max_points=self.max_points.value(),
            search_radius_m=self.radius.value() or None, eo_bands=(band,) if band is not None else None)
        args = ["coregister", *pending.inputs, "--out", out_dir, *request.to_argv()]
        self.save_options()
        self._start_task(f"Coregister {name}", args, out_dir, lambda task: self._coregistered(task, pending))

    def _start_task(self, description, args, out_dir, on_done) -> None:
        python, origin = worker_python()
        self.log.appendPlainText(f"$ {' '.join(engine_command(python, args))}   [Python from {origin}]")
        task = WorkerTask(description, python, args, lambda t: self._task_done(t, on_done),
                          output=out_dir)
        task.message.connect(self._on_message)
        task.progressChanged.connect(lambda value: self.progress.setValue(int(value)))
        self.task = task
        self.progress.setValue(0)
        self._started, self._last_message = time.monotonic(), ""
        self._set_running(True)
        self.status.setText(f"{description}…")
        QgsApplication.taskManager().addTask(task)

    def _on_message(self, text: str) -> None:
        """A new step goes to the log once; the status line shows it with the share done and an estimate of
        the time left (from the elapsed time and the progress, once there is enough of both)."""
        if not text:
            return
        if text != self._last_message:
            self.log.appendPlainText(text)
            self._last_message = text
        done = self.progress.value() / 100.0
        elapsed = time.monotonic() - self._started
        eta = f", about {_duration(elapsed * (1 - done) / done)} left" if done >= 0.1 and elapsed > 3 else ""
        self.status.setText(f"{text} ({done:.0%}{eta})")

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.apply_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)

    def cancel(self) -> None:
        if self.task is not None:
            self.status.setText("Cancelling…")
            self.task.cancel()

    def _task_done(self, task: WorkerTask, on_done) -> None:
        self.task = None
        self._set_running(False)
        if task.error:
            self.progress.setValue(0)
            self.say(task.error, error=not task.cancelled_by_user)
            return
        self.progress.setValue(100)
        on_done(task)

    def _coregistered(self, task: WorkerTask, run: Run) -> None:
        report = CoregReport.from_dict(task.payload["report"])
        run.layers = add_run_layers(run.out_dir, run.name)
        self.run = run
        self._bind_review()
        if not report.aligned:
            self.say(report.verdict_line(), error=True)
        self.say(f"Done: {report.points_line()}"
                 + (f", mean confidence {report.confidence_mean:.2f}" if report.confidence_mean is not None else "")
                 + f". Outputs in {run.out_dir}")
        self.tabs.setCurrentIndex(1)

    def _bind_review(self) -> None:
        index = self.review_transform.findData(self.transform.currentData())
        self.review_transform.setCurrentIndex(max(index, 0))
        self.review.transform = self.review_transform.currentData()
        eo_id, sar_id = (layer.id() if layer else None for layer in (self.eo_combo.currentLayer(),
                                                                     self.sar_combo.currentLayer()))
        self.review.chip_layers = lambda: (QgsProject.instance().mapLayer(eo_id), QgsProject.instance().mapLayer(sar_id))
        self.review.bind(ReviewSession(self.run.layers, self.run.eo_path), self.iface.mapCanvas())
        self.update_compare()

    # ---- apply, import, export -----------------------------------------------------------------
    def _synced_gpkg(self) -> Optional[str]:
        if self.run is None or self.run.layers is None:
            self.say("Run a coregistration (or import tie points) first.", error=True)
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
        if gpkg is None:
            return
        run = self.run
        run.applied += 1
        out_dir = f"{run.out_dir}_edited{run.applied}"
        args = ["apply", "--tiepoints", gpkg, *run.inputs, "--out", out_dir,
                "--transform", self.review_transform.currentData(), "--resampling", self.resampling.currentText()]
        self._start_task(f"Apply edits of {run.name}", args, out_dir, lambda task: self._applied(task, run, out_dir))

    def _applied(self, task: WorkerTask, run: Run, out_dir: str) -> None:
        report = CoregReport.from_dict(task.payload["report"])
        previous = run.layers.aligned and QgsProject.instance().layerTreeRoot().findLayer(run.layers.aligned.id())
        if previous:
            previous.setItemVisibilityChecked(False)
        run.layers.aligned = add_raster(run.layers.group, os.path.join(out_dir, ALIGNED_FILE),
                                        f"Aligned SAR (edited {run.applied})")
        style_aligned(run.layers.aligned)
        self.update_compare()
        self.say(f"Applied: {report.points_line()}. "
                 f"Aligned SAR, offsets, .points and SpaceNet 9 CSV in {out_dir}")

    def import_tiepoints(self, path: Optional[str] = None) -> None:
        """Load tie points from a .points, SpaceNet 9 .csv or .gpkg file as a new run for review."""
        if self.task is not None:
            return
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import tie points", "",
                                                  "Tie points (*.points *.csv *.gpkg)")
            if not path:
                return
        checked = self.check_inputs()
        if checked is None:
            return
        eo_path, sar_path, base, crs = checked
        name = f"imported_{Path(path).stem}_{time.strftime('%Y%m%d-%H%M%S')}"
        out_dir = os.path.join(base, name)  # the engine creates it (and removes it if the import fails)
        args = ["convert", "--tiepoints", path, "--to", os.path.join(out_dir, TIEPOINTS_GPKG),
                "--eo", eo_path, "--sar", sar_path, *crs]
        pending = Run(name, out_dir, eo_path, sar_path, crs)
        self._start_task(f"Import {Path(path).name}", args, out_dir, lambda task: self._imported(pending))

    def _imported(self, run: Run) -> None:
        run.layers = add_run_layers(run.out_dir, run.name)
        self.run = run
        self._bind_review()
        self.say(f"Imported {len(self.review.session.rows)} tie points into {run.out_dir}.")
        self.tabs.setCurrentIndex(1)

    def export_tiepoints(self, path: Optional[str] = None) -> None:
        """Save the reviewed points as a Georeferencer .points or SpaceNet 9 .csv file."""
        if self.task is not None or self.run is None:
            self.say("Nothing to export yet: run a coregistration first.", error=self.run is None)
            return
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Export tie points", self.run.out_dir,
                                                  "QGIS Georeferencer (*.points);;SpaceNet 9 tie points (*.csv)")
            if not path:
                return
        gpkg = self._synced_gpkg()
        if gpkg is None:
            return
        args = ["convert", "--tiepoints", gpkg, "--to", path, *self.run.inputs]
        self._start_task(f"Export {Path(path).name}", args, path,
                         lambda task: self.say(f"Exported the tie points to {path}."))

    def closeEvent(self, event):  # noqa: N802 (Qt's name)
        if self.task is not None:
            answer = QMessageBox.question(self, "SAR–EO Coregistration", "A run is in progress. Cancel it and close "
                                          "the panel?", QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
            if answer != QMessageBox.Yes:
                event.ignore()
                return
            self.cancel()
        if self.compare_item is not None:
            self.compare_item.remove()
            self.compare_item = None
        super().closeEvent(event)
