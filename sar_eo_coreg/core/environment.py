"""What the worker interpreter has: package versions, what is missing, the runtime (lean, or with the training
tools) and the compute device.

`python -m sar_eo_coreg env` prints this as JSON; the plugin's Check environment shows it.
"""

from __future__ import annotations

import platform
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Optional

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"  # the worker's pinned packages (lean)
TRAINING_REQUIREMENTS = REQUIREMENTS.with_name("requirements-train.txt")  # optional: torch, to train and export
WEIGHTS_ENV = "SAR_EO_COREG_WEIGHTS"  # folders (os.pathsep-separated) where the worker looks for model weights


def required_packages(requirements: Path = REQUIREMENTS) -> list:
    """Package names of pinned requirements (shipped with the plugin)."""
    lines = (ln.split("#")[0].strip() for ln in requirements.read_text().splitlines())
    return [re.split(r"[<>=!~\[ ;]", ln, maxsplit=1)[0] for ln in lines if ln]


def installed_version(name: str) -> Optional[str]:
    """A distribution's version, without importing it; None when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_environment() -> dict:
    """The worker's Python, package versions, what is missing, the runtime and the device, as a dict."""
    from .device import describe_device

    found = {name: installed_version(name) for name in required_packages()}
    training = [name for name in required_packages(TRAINING_REQUIREMENTS) if installed_version(name)]
    missing = [name for name, version in found.items() if version is None]
    runtime = "lean + training tools" if len(training) == len(required_packages(TRAINING_REQUIREMENTS)) else "lean"
    return {"python": sys.executable, "python_version": platform.python_version(),
            "versions": {name: version for name, version in found.items() if version}, "missing": missing,
            "runtime": runtime, "training_tools": training, "device": describe_device("auto"), "ok": not missing}
