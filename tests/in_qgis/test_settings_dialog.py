"""Settings: Check environment reports the worker's versions and device; Set up environment creates a
venv and installs requirements with a visible log, without blocking the Qt event loop."""

import sys

from sar_eo_coreg.bridge.settings import PYTHON_KEY, venv_python, worker_python
from sar_eo_coreg.ui.settings_dialog import SettingsDialog
from tests.in_qgis.conftest import wait_until


def test_check_environment_shows_versions_and_device(qgis_app):
    dialog = SettingsDialog()
    assert dialog.python.filePath() == sys.executable  # from SAR_EO_COREG_PYTHON
    dialog.check_environment()
    assert dialog.stop_button.isEnabled()  # running in the background
    assert wait_until(qgis_app, lambda: dialog.check_button.isEnabled(), 120)
    log = dialog.log.toPlainText()
    assert "numpy 1.26.4" in log and "Device: CPU only" in log and "Ready." in log


def test_set_up_environment_creates_a_venv_and_saves_it(qgis_app, tmp_path, monkeypatch):
    from qgis.core import QgsSettings

    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# nothing to install in this test\n")
    dialog = SettingsDialog(requirements=requirements)
    venv = tmp_path / "venv"
    dialog.set_up_environment(venv)
    started = qgis_app.processEvents() or dialog.stop_button.isEnabled()
    assert started
    assert wait_until(qgis_app, lambda: dialog.setup_button.isEnabled(), 300)
    assert venv_python(venv).exists()
    log = dialog.log.toPlainText()
    assert "-m venv" in log and "pip install" in log and "Environment ready" in log
    monkeypatch.delenv("SAR_EO_COREG_PYTHON")
    try:
        assert worker_python() == (str(venv_python(venv)), "plugin settings")
    finally:
        QgsSettings().remove(PYTHON_KEY)
