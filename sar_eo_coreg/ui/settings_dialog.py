"""Settings: the worker's Python, Check environment, and Set up environment (a venv with the pinned
requirements). Everything runs in QProcess, so QGIS never freezes; the log shows each step."""

from __future__ import annotations

import json
import shutil
import sys
from typing import List, Optional, Tuple

from qgis.gui import QgsFileWidget
from qgis.PyQt.QtCore import QProcess
from qgis.PyQt.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from ..bridge.settings import (
    PYTHON_ENV_VAR,
    managed_venv_dir,
    set_worker_python,
    venv_python,
    worker_python,
    worker_qprocess,
)
from ..bridge.worker import engine_command
from ..core.environment import REQUIREMENTS, TRAINING_REQUIREMENTS


def base_python() -> str:
    """The Python that creates the managed venv: python3 on PATH (inside QGIS, sys.executable may be QGIS)."""
    return shutil.which("python3") or shutil.which("python") or sys.executable


def setup_steps(venv, requirements=REQUIREMENTS, training=None) -> List[Tuple[str, List[str]]]:
    """Create the venv, install the lean runtime, and the training tools when `training` (their requirements
    file) is given."""
    python = str(venv_python(venv))
    pip = [python, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile", "-r"]  # bytecode on first use
    return [(base_python(), ["-m", "venv", str(venv)]), (python, [*pip[1:], str(requirements)])] + (
        [(python, [*pip[1:], str(training)])] if training else [])


class SettingsDialog(QDialog):
    def __init__(self, parent=None, requirements=REQUIREMENTS, training_requirements=TRAINING_REQUIREMENTS):
        super().__init__(parent)
        self.setWindowTitle(self.tr("SAR–EO Coregistration settings"))
        self.requirements, self.training_requirements = requirements, training_requirements
        self.process: Optional[QProcess] = None
        self.steps: List[Tuple[str, List[str]]] = []
        self.on_steps_done = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        python, origin = worker_python()
        self.python = QgsFileWidget(self)
        self.python.setFilePath(python)
        self.python.setToolTip(f"Python that runs the engine. {PYTHON_ENV_VAR} overrides this setting.")
        form.addRow(self.tr("Worker Python"), self.python)
        self.origin = QLabel(f"Now: {python} (from {origin})", self)
        self.origin.setWordWrap(True)
        form.addRow("", self.origin)
        layout.addLayout(form)
        buttons = QHBoxLayout()
        self.check_button = QPushButton(self.tr("Check environment"), self)
        self.setup_button = QPushButton(self.tr("Set up environment"), self)
        self.setup_button.setToolTip(f"Create {managed_venv_dir()} and install the pinned requirements into it.")
        self.stop_button = QPushButton(self.tr("Stop"), self)
        self.stop_button.setEnabled(False)
        self.check_button.clicked.connect(self.check_environment)
        self.setup_button.clicked.connect(self.set_up_environment)
        self.stop_button.clicked.connect(self.stop)
        for button in (self.check_button, self.setup_button, self.stop_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.training = QCheckBox(self.tr("Also install the training tools (torch; about 5.9 GB, the engine does not "
                                          "need them)"), self)
        self.training.setToolTip("Set up environment installs the lean runtime (about 0.4 GB: numpy, SciPy, OpenCV, "
                                 "rasterio, onnxruntime). torch is needed only to train models and export them.")
        layout.addWidget(self.training)
        self.log = QPlainTextEdit(self)
        self.log.setReadOnly(True)
        self.log.setMinimumSize(560, 260)
        layout.addWidget(self.log, 1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close, self)
        box.accepted.connect(self.save)
        box.rejected.connect(self.reject)
        layout.addWidget(box)

    def save(self) -> None:
        set_worker_python(self.python.filePath().strip())
        self.accept()

    # ---- processes -----------------------------------------------------------------------------
    def _run_steps(self, steps, on_done=None) -> None:
        self.steps = list(steps)
        self.on_steps_done = on_done
        self._set_busy(True)
        self._next_step()

    def _next_step(self) -> None:
        if not self.steps:
            self._set_busy(False)
            if self.on_steps_done:
                self.on_steps_done()
            return
        program, args = self.steps.pop(0)
        self.log.appendPlainText(f"$ {program} {' '.join(args)}")
        process = worker_qprocess(self)
        process.setProcessChannelMode(QProcess.ProcessChannelMode.MergedChannels)
        process.readyReadStandardOutput.connect(lambda: self._output(process))
        process.finished.connect(lambda code, status: self._finished(process, code))
        process.errorOccurred.connect(lambda error: self._failed(process, program))
        self.process = process
        self._output_buffer = ""
        process.start(program, args)

    def _output(self, process) -> None:
        text = bytes(process.readAllStandardOutput()).decode(errors="replace")
        self._output_buffer += text
        self.log.appendPlainText(text.rstrip("\n"))

    def _finished(self, process, code: int) -> None:
        if process is not self.process:
            return
        self.process = None
        if code != 0:
            self.steps = []
            self._set_busy(False)
            self.log.appendPlainText(f"Failed (exit code {code}). See the messages above.")
            return
        self._next_step()

    def _failed(self, process, program) -> None:
        if process is not self.process or process.error() != QProcess.ProcessError.FailedToStart:
            return
        self.process = None
        self.steps = []
        self._set_busy(False)
        self.log.appendPlainText(f"Could not start {program}. Check the path of the worker Python.")

    def stop(self) -> None:
        self.steps = []
        if self.process is not None:
            self.process.kill()
            self.log.appendPlainText("Stopped.")

    def _set_busy(self, busy: bool) -> None:
        self.check_button.setEnabled(not busy)
        self.setup_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)

    # ---- the two actions -----------------------------------------------------------------------
    def check_environment(self) -> None:
        python = self.python.filePath().strip()
        command = engine_command(python, ["env"])
        self._run_steps([(command[0], command[1:])], self._report_environment)

    def _report_environment(self) -> None:
        try:
            info = json.loads(self._output_buffer)
        except ValueError:
            return
        versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        verdict = "Ready." if info["ok"] else f"Missing: {', '.join(info['missing'])}. Use Set up environment."
        self.log.appendPlainText(f"Python {info['python_version']}: {versions}\nRuntime: {info['runtime']}\n"
                                 f"Device: {info['device']}\n{verdict}")

    def set_up_environment(self, venv=None) -> None:
        venv = venv or managed_venv_dir()
        python = str(venv_python(venv))
        self.log.appendPlainText(f"Setting up {venv}; installing the pinned requirements can take several minutes.")

        def done():
            self.python.setFilePath(python)
            set_worker_python(python)
            self.log.appendPlainText(f"Environment ready: {python}. Check environment to see the device.")

        training = self.training_requirements if self.training.isChecked() else None
        self._run_steps(setup_steps(venv, self.requirements, training), done)
