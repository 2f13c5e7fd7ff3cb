"""The engine stays QGIS-free and the package imports light."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

ENGINE_DIRS = ["core", "models", "training"]


def _engine_files():
    for sub in ENGINE_DIRS:
        yield from sorted((REPO / "sar_eo_coreg" / sub).rglob("*.py"))


def _imported_roots(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


@pytest.mark.parametrize("path", list(_engine_files()), ids=lambda p: str(p.relative_to(REPO)))
def test_engine_module_does_not_import_qgis(path):
    assert "qgis" not in set(_imported_roots(path))


@pytest.mark.parametrize("front", ["processing", "ui"])
def test_the_two_front_ends_share_the_bridge_and_do_not_import_each_other(front):
    other = {"processing": "ui", "ui": "processing"}[front]
    for path in sorted((REPO / "sar_eo_coreg" / front).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        relative = {node.module.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and node.level == 2 and node.module}
        assert other not in relative, f"{path.relative_to(REPO)} imports {other}/"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_engine_imports_with_qgis_blocked():
    """Import every engine module while any import of qgis raises."""
    modules = [
        ".".join(p.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__") for p in _engine_files()
    ]
    code = (
        "import sys, importlib\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'qgis' or name.startswith('qgis.'): raise ImportError('qgis is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print('ok')\n"
    )
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_package_import_is_light():
    result = _run(
        "import sys, sar_eo_coreg\n"
        "heavy = [m for m in ('qgis', 'torch', 'rasterio', 'cv2') if m in sys.modules]\n"
        "print(heavy)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
