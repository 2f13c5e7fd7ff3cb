"""Check a built plugin zip: size, layout, no compiled files, caches or binaries. Exit 1 on failure."""

import sys
import zipfile
from pathlib import Path

MAX_BYTES = 25 * 1024 * 1024
FORBIDDEN_SUFFIXES = (".pyc", ".pyo", ".so", ".dll", ".dylib", ".exe", ".pt", ".pth", ".onnx")
FORBIDDEN_PARTS = ("__pycache__", ".pytest_cache", ".git/")


def problems(zip_path: Path) -> list:
    found = []
    size = zip_path.stat().st_size
    if size > MAX_BYTES:
        found.append(f"zip is {size / 1e6:.1f} MB, over the 25 MB limit")
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
    if "sar_eo_coreg/metadata.txt" not in names:
        found.append("sar_eo_coreg/metadata.txt is missing")
    for name in names:
        if not name.startswith("sar_eo_coreg/"):
            found.append(f"{name} lies outside the plugin folder")
        if name.endswith(FORBIDDEN_SUFFIXES) or any(part in name for part in FORBIDDEN_PARTS):
            found.append(f"{name} must not be packaged")
    return found


def main(argv=None) -> int:
    zip_path = Path((argv or sys.argv[1:])[0])
    found = problems(zip_path)
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if not found:
        print(f"{zip_path}: {zip_path.stat().st_size / 1e6:.2f} MB, valid")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
