"""Settings: Check environment reports the worker's versions and device; Set up environment creates a
venv and installs requirements with a visible log, without blocking the Qt event loop."""

import sys

import pytest

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
    assert "numpy 1.26.4" in log and "Device: CPU" in log and "Runtime: lean" in log and "Ready." in log


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


def test_weights_in_the_profile_folder_are_found_as_in_a_zip_install(qgis_app, data_dir, tmp_path):
    """A zip install has no weights/ beside the plugin: the user copies NAME.json (+ its .onnx files) into
    <QGIS profile>/sar_eo_coreg/weights/, and the worker finds it there by name."""
    import shutil
    from pathlib import Path

    from qgis.core import QgsApplication

    from sar_eo_coreg.bridge.settings import weights_env
    from sar_eo_coreg.bridge.worker import WorkerError, WorkerRun, engine_command
    from tests.conftest import REPO

    folder = Path(QgsApplication.qgisSettingsDirPath()) / "sar_eo_coreg" / "weights"
    folder.mkdir(parents=True, exist_ok=True)
    copied = [folder / "from_zip.json", folder / "default.eo.onnx", folder / "default.sar.onnx"]
    for src, dst in zip((REPO / "weights" / name for name in ("default.json", "default.eo.onnx", "default.sar.onnx")),
                        copied):
        shutil.copyfile(src, dst)
    args = ["coregister", "--eo", str(data_dir / "airport_eo.tif"), "--sar", str(data_dir / "airport_sar.tif"),
            "--search-radius-m", "120", "--tiepoints-only", "--matcher", "learned", "--progress", "jsonl"]
    env = weights_env()
    try:
        result = WorkerRun(engine_command(sys.executable, [*args, "--model", "from_zip", "--out", str(tmp_path / "a")]),
                           env=env).run()
        assert result["report"]["model_file"].endswith("from_zip.json")
        with pytest.raises(WorkerError) as refused:
            WorkerRun(engine_command(sys.executable, [*args, "--model", "absent", "--out", str(tmp_path / "b")]),
                      env=env).run()
        assert str(folder) in str(refused.value) and "\n" not in str(refused.value)  # where a zip user puts weights
    finally:
        for path in copied:
            path.unlink()


def test_set_up_installs_the_lean_runtime_and_the_training_tools_only_when_asked(qgis_app, tmp_path):
    from sar_eo_coreg.core.environment import REQUIREMENTS, TRAINING_REQUIREMENTS, required_packages
    from sar_eo_coreg.ui.settings_dialog import setup_steps

    dialog = SettingsDialog()
    assert not dialog.training.isChecked() and "5.9 GB" in dialog.training.text()
    lean = setup_steps(tmp_path / "venv", REQUIREMENTS)
    full = setup_steps(tmp_path / "venv", REQUIREMENTS, TRAINING_REQUIREMENTS)
    assert [args[-1] for _, args in lean[1:]] == [str(REQUIREMENTS)]
    assert [args[-1] for _, args in full[1:]] == [str(REQUIREMENTS), str(TRAINING_REQUIREMENTS)]
    assert "torch" not in required_packages(REQUIREMENTS) and "torch" in required_packages(TRAINING_REQUIREMENTS)
