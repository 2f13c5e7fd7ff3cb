"""What the worker interpreter has: package versions, what is missing, and the compute device.

`python -m sar_eo_coreg env` prints this as JSON; the plugin's Check environment shows it.
"""

from __future__ import annotations

import platform
import re
import sys
from importlib import metadata
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"  # the worker's pinned packages
WEIGHTS_ENV = "SAR_EO_COREG_WEIGHTS"  # folders (os.pathsep-separated) where the worker looks for model weights


def required_packages() -> list:
    """Package names of the pinned requirements (shipped with the plugin)."""
    lines = (ln.split("#")[0].strip() for ln in REQUIREMENTS.read_text().splitlines())
    return [re.split(r"[<>=!~\[ ;]", ln, maxsplit=1)[0] for ln in lines if ln]


def check_environment() -> dict:
    versions, missing = {}, []
    for name in required_packages():
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    device = "unknown (torch is missing)"
    if "torch" not in missing:
        try:
            from .device import describe_device

            device = describe_device("auto")
        except Exception as exc:  # a broken torch install is reported, not raised
            device = f"unknown (torch failed to load: {exc})"
            missing.append("torch (broken)")
    return {"python": sys.executable, "python_version": platform.python_version(), "versions": versions,
            "missing": missing, "device": device, "ok": not missing}
