"""`qgis-plugin-ci package` builds a valid plugin zip from the committed tree."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import sar_eo_coreg
from tests.conftest import REPO

sys.path.insert(0, str(REPO / "tools"))
from check_plugin_zip import problems  # noqa: E402

QGIS_PLUGIN_CI = Path(sys.executable).parent / "qgis-plugin-ci"


@pytest.mark.skipif(not (REPO / ".git").exists(), reason="needs a git checkout")
def test_package_builds_valid_zip(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
    version = sar_eo_coreg.__version__
    result = subprocess.run(
        [str(QGIS_PLUGIN_CI), "package", version], cwd=clone, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    zip_path = clone / f"sar_eo_coreg.{version}.zip"
    assert problems(zip_path) == []
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
    assert {"sar_eo_coreg/__init__.py", "sar_eo_coreg/plugin.py", "sar_eo_coreg/icons/icon.svg"} <= names
    shutil.rmtree(clone)


def test_zip_checker_rejects_caches_and_missing_metadata(tmp_path):
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("sar_eo_coreg/__pycache__/x.cpython-311.pyc", b"\0")
    found = problems(bad)
    assert any("metadata.txt is missing" in p for p in found)
    assert any("must not be packaged" in p for p in found)


def test_the_translation_template_holds_every_tr_string():
    """i18n/sar_eo_coreg.ts is rebuilt from the tr() strings (tools/i18n.py) and Qt's lrelease reads it."""
    check = subprocess.run([sys.executable, "tools/i18n.py", "--check"], cwd=REPO, capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    text = (REPO / "sar_eo_coreg" / "i18n" / "sar_eo_coreg.ts").read_text()
    assert "<name>CoregDock</name>" in text and "<source>Report…</source>" in text
    if shutil.which("lrelease"):
        done = subprocess.run(["lrelease", "sar_eo_coreg/i18n/sar_eo_coreg.ts", "-qm", "/dev/null"], cwd=REPO,
                              capture_output=True, text=True)
        assert done.returncode == 0 and "untranslated source text" in done.stdout
