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


INFERENCE = [*sorted((REPO / "sar_eo_coreg" / "core").rglob("*.py")), REPO / "sar_eo_coreg" / "models" / "descriptor.py",
             REPO / "sar_eo_coreg" / "cli.py", *sorted((REPO / "sar_eo_coreg" / "bridge").rglob("*.py"))]


@pytest.mark.parametrize("path", INFERENCE, ids=lambda p: str(p.relative_to(REPO)))
def test_inference_never_imports_torch(path):
    """The lean runtime: the engine, the learned descriptor (onnxruntime) and the front ends' shared code."""
    assert not {"torch", "torchvision"} & set(_imported_roots(path))


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


def _package_edges():
    """(importing part, imported part) of the plugin's parts: its sub-packages and top-level modules."""
    root = REPO / "sar_eo_coreg"
    edges = set()
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        here = parts[0] if len(parts) > 1 else "(top)"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level == 0 and (node.module or "").startswith("sar_eo_coreg."):
                target = node.module.split(".")[1]
            elif node.level == len(parts):  # from the package root: `from ..x` in a sub-package
                target = (node.module or "").split(".")[0] or "(top)"
            elif node.level > len(parts):
                target = "(above)"
            else:
                continue
            if not (root / target).is_dir() and target != "(above)":
                target = "(top)"  # the package root or a top-level module (cli, demo, plugin)
            if target != here:
                edges.add((here, target))
    return edges


def test_core_imports_nothing_outside_core():
    assert {target for here, target in _package_edges() if here == "core"} == set()


def test_the_parts_of_the_plugin_import_each_other_without_a_circle():
    edges = _package_edges()
    graph = {}
    for here, target in edges:
        graph.setdefault(here, set()).add(target)

    def reaches(start, goal, seen=()):
        return any(n == goal or (n not in seen and reaches(n, goal, (*seen, n))) for n in graph.get(start, ()))

    circles = sorted(part for part in graph if reaches(part, part))
    assert circles == [], f"parts on a circle: {circles}; edges: {sorted(edges)}"


DOCUMENTED_DIRS = ["core", "bridge", "batch"]


def _undocumented(node, path, prefix=""):
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not child.name.startswith("_"):
            if not ast.get_docstring(child):
                yield f"{path.relative_to(REPO)}:{child.lineno} {prefix}{child.name}"
            if isinstance(child, ast.ClassDef):
                yield from _undocumented(child, path, f"{prefix}{child.name}.")


def test_every_public_class_and_function_of_the_engine_and_bridge_says_what_it_is():
    """A docstring on each public class, function and method of core/, bridge/ and batch/."""
    missing = [line for sub in DOCUMENTED_DIRS for path in sorted((REPO / "sar_eo_coreg" / sub).rglob("*.py"))
               for line in _undocumented(ast.parse(path.read_text()), path)]
    assert missing == [], f"{len(missing)} without a docstring: {missing}"
