"""Learned descriptors in the dense engine's descriptor slot (core.features.Descriptor), and the one function
that picks the descriptor a request asks for. The front ends (CLI, bench) pass it to the pipeline."""

from __future__ import annotations

import numpy as np
import torch

from ..core.choices import Matcher
from ..core.device import resolve_device
from ..core.errors import CoregError
from ..core.features import Descriptor, fill_nodata, structural_descriptor
from .heatmap import find_weights, load_weights


class LearnedDescriptor(Descriptor):
    """A learned model's per-modality descriptors (models that define `descriptors(image, modality)`)."""

    def __init__(self, device: str = "auto", model: str = None):
        self.device = resolve_device(device)
        path = find_weights(model)
        self.net, self.card = load_weights(path, self.device)
        if not hasattr(self.net, "descriptors"):
            raise CoregError(
                f"Model '{self.card.name}' ({path}) predicts chip heatmaps and has no dense descriptors, so it cannot "
                "drive the dense engine. Use a descriptor model (siamese_corr, the default) or --matcher structural."
            )
        self.name = f"learned:{self.card.name}"
        self.sha256, self.weights_path = self.card.sha256, str(path)

    def __call__(self, image, modality):
        norm = self.card.norm
        mean, std = (norm.eo_mean, norm.eo_std) if modality == "eo" else (norm.sar_mean, norm.sar_std)
        x = np.where(image > 0, (fill_nodata(image) / 255.0 - mean) / std, 0.0).astype(np.float32)
        with torch.no_grad():
            return self.net.descriptors(torch.from_numpy(x).to(self.device)[None, None], modality)[0].cpu().numpy()


def descriptor_for(params) -> Descriptor:
    """The descriptor a request (CoregParams) asks for: a learned model's (weights name or path, default the
    shipped one) or the engine's CFOG."""
    if Matcher.parse(params.matcher).needs_model:
        return LearnedDescriptor(params.device, params.model)
    return structural_descriptor(params)
