"""Where inference runs. The engine's CFOG runs on the CPU (OpenCV); learned descriptors run in onnxruntime,
on a CUDA GPU when onnxruntime-gpu is installed and one is present."""

from __future__ import annotations

from .choices import DEVICES
from .errors import CoregError

CUDA_PROVIDER, CPU_PROVIDER = "CUDAExecutionProvider", "CPUExecutionProvider"


def _available() -> list:
    try:
        import onnxruntime
    except ImportError:
        return []
    return onnxruntime.get_available_providers()


def onnx_providers(name: str = "auto") -> list:
    """onnxruntime execution providers for a device choice (auto, cpu, cuda), best first."""
    if name not in DEVICES:
        raise CoregError(f"Unknown device '{name}'. Use auto, cpu or cuda.")
    cuda = CUDA_PROVIDER in _available()
    if name == "cuda" and not cuda:
        raise CoregError("CUDA was asked for but onnxruntime has no CUDA provider here (install onnxruntime-gpu on a "
                         "machine with an NVIDIA GPU). Use --device cpu or auto.")
    return ([CUDA_PROVIDER] if cuda and name != "cpu" else []) + [CPU_PROVIDER]


def describe_device(name: str = "auto") -> str:
    """The device learned descriptors would use, in words (CFOG always runs on the CPU)."""
    if not _available():
        return "CPU (onnxruntime is not installed: the structural matcher only)"
    return "CUDA GPU (onnxruntime)" if onnx_providers(name)[0] == CUDA_PROVIDER else "CPU"
