"""metadata.txt has what plugins.qgis.org requires, and agrees with the code."""

import configparser

import sar_eo_coreg
from tests.conftest import REPO

REQUIRED = ["name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository"]


def _metadata():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO / "sar_eo_coreg" / "metadata.txt", encoding="utf-8")
    return parser["general"]


def test_required_fields_present_and_non_empty():
    meta = _metadata()
    for key in REQUIRED + ["tracker", "homepage", "category", "tags", "icon", "hasProcessingProvider"]:
        assert meta.get(key, "").strip(), f"metadata.txt lacks {key}"


def test_values_that_matter():
    meta = _metadata()
    assert meta["qgisMinimumVersion"] == "3.22"
    assert meta["category"] == "Raster"
    assert meta["hasProcessingProvider"] == "yes"
    assert meta["version"] == sar_eo_coreg.__version__
    assert (REPO / "sar_eo_coreg" / meta["icon"]).is_file()


def test_about_names_external_dependencies_and_setup():
    about = _metadata()["about"]
    for dependency in ("numpy", "rasterio", "onnxruntime", "opencv", "scipy"):
        assert dependency in about
    assert "pip" in about and "virtual environment" in about


def test_changelog_mentions_current_version():
    assert f"[{sar_eo_coreg.__version__}]" in (REPO / "CHANGELOG.md").read_text()
