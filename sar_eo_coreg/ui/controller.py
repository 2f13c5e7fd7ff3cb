"""The dock's runs, without its widgets: checks the chosen layers, runs one worker command at a time in a
WorkerTask, relays its progress, loads what it wrote and says how it went. The dock lays out the choices and shows
what this emits; tests can drive it without a window."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional

from qgis.core import QgsApplication, QgsProject, QgsRasterLayer
from qgis.PyQt.QtCore import QObject, QProcess, pyqtSignal

from ..bridge.settings import worker_python, worker_qprocess
from ..bridge.tiepoint_layers import RunLayers, add_raster, add_run_layers, crs_args, source_path, style_aligned
from ..bridge.worker import engine_command
from ..core.errors import CoregError
from ..core.outputs import ALIGNED_FILE, TIEPOINTS_GPKG
from ..core.report import CoregReport
from ..core.request import ApplyParams, CoregParams
from .task import WorkerTask
from .verdict import verdict_text


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
    verdict: Optional[str] = None  # the engine's, for a coregistration (None for imported tie points)

    @property
    def inputs(self) -> list:
        return ["--eo", self.eo_path, "--sar", self.sar_path, *self.crs_args]


def default_output_base() -> str:
    """A folder next to the project ("<project folder>/coregistration"), else in the home folder."""
    home = QgsProject.instance().absolutePath() or os.path.expanduser("~")
    return os.path.join(home, "coregistration")


def run_name(eo_name: str, sar_name: str) -> str:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{sar_name}_to_{eo_name}").strip("_")[:60]
    return f"{safe}_{stamp}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


class RunController(QObject):
    said = pyqtSignal(str, bool)  # a line for the status, the log and (errors) the message bar
    logged = pyqtSignal(str)  # a line for the log only
    status_changed = pyqtSignal(str)  # the status line only (the current step, share done and time left)
    progressed = pyqtSignal(int)  # percent
    busy = pyqtSignal(bool)  # a run started (True) or ended (False)
    loaded = pyqtSignal()  # `run` is new and its layers are loaded: review it
    aligned_changed = pyqtSignal()  # `run` has a new aligned SAR layer
    environment_checked = pyqtSignal(str)  # what the worker Python has (see `missing`)
    verdict = pyqtSignal(str, str, str)  # verdict (or "cancelled"), the banner's line, the engine's own message

    def __init__(self, parent=None):
        super().__init__(parent)
        self.task: Optional[WorkerTask] = None
        self.run: Optional[Run] = None
        self.missing: Optional[List[str]] = None  # packages the worker lacks; None: not checked yet
        self._env_process: Optional[QProcess] = None
        self._progress = 0
        self._started = 0.0
        self._last_message = ""

    # ---- environment ---------------------------------------------------------------------------
    def detect_device(self) -> None:
        """Ask the worker which device it sees, without blocking QGIS."""
        if self._env_process is not None:
            return
        python, _ = worker_python()
        self.environment_checked.emit(self.tr("Device: checking…"))
        process = worker_qprocess(self)
        process.finished.connect(lambda *args: self._device_detected(process))
        process.errorOccurred.connect(lambda *args: self._device_detected(process))
        self._env_process = process
        command = engine_command(python, ["env"])
        process.start(command[0], command[1:])

    def stop_checks(self) -> None:
        """End a device check still running (the panel is going away): nothing calls back afterwards."""
        process, self._env_process = self._env_process, None
        if process is not None:
            for signal in (process.finished, process.errorOccurred):
                try:
                    signal.disconnect()
                except TypeError:
                    pass
            process.kill()
            process.waitForFinished(2000)

    def _device_detected(self, process: QProcess) -> None:
        if self._env_process is not process:
            return
        self._env_process = None
        try:
            info = json.loads(bytes(process.readAllStandardOutput()).decode())
            self.missing = list(info.get("missing", []))
            text = self.tr("Detected: {device}").format(device=info["device"])
            if self.missing:
                text = self.tr("The worker Python lacks {packages}: set up the environment first.").format(
                    packages=", ".join(self.missing))
        except (ValueError, KeyError):
            self.missing = [self.tr("a working Python with the engine's packages")]
            text = self.tr("The worker Python is not usable: set up the environment, or choose a Python in Settings…")
        self.environment_checked.emit(text)

    # ---- checks --------------------------------------------------------------------------------
    def input_problem(self, eo, sar, base: str) -> Optional[str]:
        """What is wrong with the chosen layers and output folder, in one line; None when they will do."""
        if eo is None or sar is None:
            return self.tr("Choose an EO (optical) layer and a SAR layer first.")
        if eo.id() == sar.id() or source_path(eo) == source_path(sar):
            return self.tr("The EO and SAR layers are the same. Choose the optical image as EO and the radar image "
                           "as SAR.")
        for role, layer in (("EO", eo), ("SAR", sar)):
            if not isinstance(layer, QgsRasterLayer) or layer.providerType() != "gdal" \
                    or not os.path.isfile(source_path(layer)):
                return self.tr("The {role} layer '{name}' is not a raster file on disk. Save it as a GeoTIFF "
                               "first.").format(role=role, name=layer.name())
            if not layer.crs().isValid():
                return self.tr("The {role} layer '{name}' has no CRS. Set it in Layer Properties ▸ Source (it is "
                               "passed to the engine), then try again.").format(role=role, name=layer.name())
        base = base.strip()
        if not base:
            return self.tr("Choose an output folder.")
        parent = next((p for p in [Path(base), *Path(base).parents] if p.exists()), None)
        if parent is None or not parent.is_dir() or not os.access(parent, os.W_OK):
            return self.tr("Cannot write to the output folder {folder}. Choose a writable folder.").format(folder=base)
        return None

    def _ready(self, eo, sar, base: str, engine: bool = False) -> bool:
        """No run in progress, a worker with the engine's packages (`engine`) and usable inputs; else False after
        saying what is wrong."""
        if self.task is not None:
            problem = self.tr("A run is already in progress; cancel it first.")
        elif engine and self.missing:
            problem = self.tr("The worker Python lacks {packages}. Set up the environment first (Settings…).").format(
                packages=", ".join(self.missing))
        else:
            problem = self.input_problem(eo, sar, base)
        if problem:
            self._on_progress(0)  # not the last run's 100 %
            self.said.emit(problem, True)
        return not problem

    @staticmethod
    def _new_run(name: str, eo, sar, base: str) -> Run:
        crs = crs_args(eo, "eo") + crs_args(sar, "sar")
        return Run(name, os.path.join(base.strip(), name), source_path(eo), source_path(sar), crs)

    # ---- runs ----------------------------------------------------------------------------------
    def coregister(self, eo, sar, base: str, request: CoregParams) -> bool:
        """Start a coregistration of the layers; False (and a line saying why) when it cannot start."""
        if not self._ready(eo, sar, base, engine=True):
            return False
        pending = self._new_run(run_name(eo.name(), sar.name()), eo, sar, base)
        args = ["coregister", *pending.inputs, "--out", pending.out_dir, *request.to_argv()]
        self._start(self.tr("Coregister {name}").format(name=pending.name), args, pending.out_dir,
                    lambda task: self._coregistered(task, pending))
        return True

    def apply(self, gpkg: str, request: ApplyParams) -> None:
        """Re-fit the run from its edited tie points (`gpkg`, synced by the caller) into a new folder."""
        if self.task is not None or self.run is None:
            return
        run = self.run
        run.applied += 1
        out_dir = f"{run.out_dir}_edited{run.applied}"
        args = ["apply", "--tiepoints", gpkg, *run.inputs, "--out", out_dir, *request.to_argv()]
        self._start(self.tr("Apply edits of {name}").format(name=run.name), args, out_dir,
                    lambda task: self._applied(task, run, out_dir))

    def import_tiepoints(self, path: str, eo, sar, base: str) -> None:
        """Load tie points from a .points, SpaceNet 9 .csv or .gpkg file as a new run for review."""
        if not self._ready(eo, sar, base):
            return
        pending = self._new_run(f"imported_{Path(path).stem}_{time.strftime('%Y%m%d-%H%M%S')}", eo, sar, base)
        # the engine creates the folder (and removes it if the import fails)
        args = ["convert", "--tiepoints", path, "--to", os.path.join(pending.out_dir, TIEPOINTS_GPKG),
                *pending.inputs]
        self._start(self.tr("Import {file}").format(file=Path(path).name), args, pending.out_dir,
                    lambda task: self._imported(pending))

    def export_tiepoints(self, path: str, gpkg: str) -> None:
        """Save the run's reviewed tie points (`gpkg`, synced by the caller) as .points or SpaceNet 9 .csv."""
        if self.task is not None or self.run is None:
            return
        args = ["convert", "--tiepoints", gpkg, "--to", path, *self.run.inputs]
        self._start(self.tr("Export {file}").format(file=Path(path).name), args, path,
                    lambda task: self.said.emit(self.tr("Exported the tie points to {path}.").format(path=path), False))

    def cancel(self) -> None:
        if self.task is not None:
            self.status_changed.emit(self.tr("Cancelling…"))
            self.task.cancel()

    # ---- the task ------------------------------------------------------------------------------
    def _start(self, description: str, args: list, out_dir: str, on_done: Callable[[WorkerTask], None]) -> None:
        python, origin = worker_python()
        self.logged.emit(f"$ {' '.join(engine_command(python, args))}   [Python from {origin}]")
        task = WorkerTask(description, python, args, lambda t: self._done(t, on_done), output=out_dir)
        task.message.connect(self._on_message)
        task.progressChanged.connect(self._on_progress)
        self.task = task
        self._on_progress(0)
        self._started, self._last_message = time.monotonic(), ""
        self.busy.emit(True)
        self.status_changed.emit(f"{description}…")
        QgsApplication.taskManager().addTask(task)

    def _on_progress(self, value: float) -> None:
        self._progress = int(value)
        self.progressed.emit(self._progress)
        if self.task is not None and self._last_message:
            self._show_status()  # the estimate follows the progress, not only new steps

    def _on_message(self, text: str) -> None:
        """A new step goes to the log once; the status line shows it with the share done and an estimate of
        the time left (from the elapsed time and the progress, once there is enough of both)."""
        if not text:
            return
        if text != self._last_message:
            self.logged.emit(text)
            self._last_message = text
        self._show_status()

    def _show_status(self) -> None:
        text = self._last_message
        done = self._progress / 100.0
        elapsed = time.monotonic() - self._started
        eta = self.tr(", about {time} left").format(time=_duration(elapsed * (1 - done) / done)) \
            if done >= 0.1 and elapsed > 3 else ""
        self.status_changed.emit(f"{text} ({done:.0%}{eta})")

    def _done(self, task: WorkerTask, on_done) -> None:
        self.task = None
        self.busy.emit(False)
        if task.error:
            self._on_progress(0)
            self.said.emit(task.error, not task.cancelled_by_user)
            if task.cancelled_by_user:
                self.verdict.emit("cancelled", self.tr("Cancelled: nothing was written, and the layers are as they "
                                                       "were."), "")
            return
        self._on_progress(100)
        try:
            on_done(task)
        except CoregError as exc:  # a result this version cannot read (another version's worker)
            self.said.emit(str(exc), True)

    def _coregistered(self, task: WorkerTask, run: Run) -> None:
        report = CoregReport.from_dict(task.payload["report"])
        run.verdict = report.verdict
        run.layers = add_run_layers(run.out_dir, run.name)
        self.run = run
        self.loaded.emit()
        self.verdict.emit(report.verdict, verdict_text(report), report.message or "")
        for note in report.notes:
            self.logged.emit(self.tr("Note: {note}").format(note=note))
        if not report.aligned:
            self.said.emit(report.verdict_line(), False)  # the banner and the message bar say it in red
            return
        confidence = "" if report.confidence_mean is None else \
            self.tr(", mean confidence {value:.2f}").format(value=report.confidence_mean)
        self.said.emit(self.tr("Done: {points}{confidence}. Outputs in {folder}").format(
            points=report.points_line(), confidence=confidence, folder=run.out_dir), False)

    def _applied(self, task: WorkerTask, run: Run, out_dir: str) -> None:
        report = CoregReport.from_dict(task.payload["report"])
        previous = run.layers.aligned and QgsProject.instance().layerTreeRoot().findLayer(run.layers.aligned.id())
        if previous:
            previous.setItemVisibilityChecked(False)
        run.layers.aligned = add_raster(run.layers.group, os.path.join(out_dir, ALIGNED_FILE),
                                        self.tr("Aligned SAR (edited {n})").format(n=run.applied))
        style_aligned(run.layers.aligned)
        self.aligned_changed.emit()
        self.said.emit(self.tr("Applied: {points}. Aligned SAR, offsets, .points and SpaceNet 9 CSV in {folder}")
                       .format(points=report.points_line(), folder=out_dir), False)

    def _imported(self, run: Run) -> None:
        run.layers = add_run_layers(run.out_dir, run.name)
        self.run = run
        self.loaded.emit()
        self.said.emit(self.tr("Imported {n} tie points into {folder}.").format(
            n=run.layers.points.featureCount(), folder=run.out_dir), False)
