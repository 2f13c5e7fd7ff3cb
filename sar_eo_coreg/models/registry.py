"""Model registry: name -> builder and default configuration. `build_model(name, **overrides)`."""

from __future__ import annotations

from typing import Callable, Dict, Tuple

from ..core.errors import CoregError


def _networks():
    from . import networks

    return networks


REGISTRY: Dict[str, Tuple[Callable, dict]] = {
    "unet": (lambda **c: _networks().UNet(**c), {"width": 16}),
    "siamese_unet": (lambda **c: _networks().SiameseUNet(**c), {"width": 16}),
    "resunet18": (lambda **c: _networks().ResUNet(**c), {"depth": 18}),
    "resunet34": (lambda **c: _networks().ResUNet(**c), {"depth": 34}),
    "resunet50": (lambda **c: _networks().ResUNet(**c), {"depth": 50}),
    "maresunet18": (lambda **c: _networks().ResUNet(**c), {"depth": 18, "attention": True}),
    "maresunet34": (lambda **c: _networks().ResUNet(**c), {"depth": 34, "attention": True}),
    "maresunet50": (lambda **c: _networks().ResUNet(**c), {"depth": 50, "attention": True}),
    "maresunet34_crossattn": (lambda **c: _networks().CrossAttentionResUNet(**c), {"depth": 34}),
    "siamese_corr": (lambda **c: _networks().SiameseCorrelation(**c), {"width": 16}),
}
MODEL_NAMES = tuple(REGISTRY)


def model_config(name: str, **overrides) -> dict:
    if name not in REGISTRY:
        raise CoregError(f"Unknown model '{name}'. Available: {', '.join(MODEL_NAMES)}.")
    return {**REGISTRY[name][1], **overrides}


def build_model(name: str, **overrides):
    """The network `name` with its default configuration, updated by `overrides` (e.g. eo_channels=3)."""
    config = model_config(name, **overrides)
    return REGISTRY[name][0](**config)


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
