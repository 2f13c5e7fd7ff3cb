"""Choosing the torch device."""

from __future__ import annotations

from .errors import CoregError


def resolve_device(name: str = "auto") -> torch.device:  # noqa: F821
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CoregError("CUDA was asked for but no CUDA GPU is available to torch. Use --device cpu or auto.")
    if name not in ("cpu", "cuda"):
        raise CoregError(f"Unknown device '{name}'. Use auto, cpu or cuda.")
    return torch.device(name)


def describe_device(name: str = "auto") -> str:
    import torch

    device = resolve_device(name)
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return "CPU only"
