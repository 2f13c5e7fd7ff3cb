"""Plugin settings: which Python runs the engine worker."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Tuple

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QProcess

from ..core.environment import WEIGHTS_ENV
from .worker import worker_env

PYTHON_KEY = "sar_eo_coreg/worker_python"
PYTHON_ENV_VAR = "SAR_EO_COREG_PYTHON"


def managed_venv_dir() -> Path:
    """Where Set up environment creates the worker's virtual environment."""
    return Path(QgsApplication.qgisSettingsDirPath()) / "sar_eo_coreg" / "venv"


def venv_python(venv: Path) -> Path:
    """The Python of the venv that Set up environment makes in the QGIS profile folder."""
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def worker_python() -> Tuple[str, str]:
    """(interpreter, where it came from): the environment variable, the setting, the managed venv, or PATH."""
    if os.environ.get(PYTHON_ENV_VAR):
        return os.environ[PYTHON_ENV_VAR], f"environment variable {PYTHON_ENV_VAR}"
    saved = QgsSettings().value(PYTHON_KEY, "", type=str)
    if saved:
        return saved, "plugin settings"
    managed = venv_python(managed_venv_dir())
    if managed.exists():
        return str(managed), "environment set up by the plugin"
    return shutil.which("python3") or "python3", "python3 on PATH"


def set_worker_python(path: str) -> None:
    """Remember the worker Python in the QGIS settings (empty: back to the default)."""
    QgsSettings().setValue(PYTHON_KEY, path)


def weights_dirs() -> str:
    """Where the worker looks for model weights: SAR_EO_COREG_WEIGHTS, then the QGIS profile's folder
    (<profile>/sar_eo_coreg/weights); a checkout's weights/ folder is searched by the engine itself."""
    managed = str(Path(QgsApplication.qgisSettingsDirPath()) / "sar_eo_coreg" / "weights")
    return os.pathsep.join(p for p in (os.environ.get(WEIGHTS_ENV, ""), managed) if p)


def weights_env() -> dict:
    """The worker's environment entry that points it at the weights folders."""
    return {WEIGHTS_ENV: weights_dirs()}


def worker_qprocess(parent) -> QProcess:
    """A QProcess with the worker's environment (for short, non-blocking worker commands)."""
    process = QProcess(parent)
    environment = process.processEnvironment()
    for key, value in worker_env(weights_env()).items():
        environment.insert(key, value)
    process.setProcessEnvironment(environment)
    return process
