"""Learned matchers: a heatmap U-Net (models/) reads each chip pair as a similarity surface, and a fused
matcher combines it with the structural one by confidence.

The models are trained for the engine's fine-matching geometry (models.heatmap: 48 px templates, search
radius up to 16 px). Passes outside it (the coarse global pass, large local radii) use the structural
matcher, so `--matcher heatmap` means learned fine matching inside the same coarse-to-fine engine."""

from __future__ import annotations

import numpy as np

from ..device import resolve_device
from .base import MARGIN, Matcher
from .structural import StructuralMatcher

BATCH = 128


class HeatmapMatcher(Matcher):
    name = "heatmap"

    def __init__(self, device: str = "auto", model: str = None):
        from ...models.heatmap import find_weights, load_weights

        self.device = resolve_device(device)
        path = find_weights(model)
        self.net, self.card = load_weights(path, self.device)
        self.half = self.device.type == "cuda"  # fp16 inference on the GPU, fp32 on the CPU
        if self.half:
            self.net.half()
        self.sha256 = self.card.sha256
        self.weights_path = str(path)
        self.structural = StructuralMatcher(device)

    def handles(self, template_half: int, radius: int) -> bool:
        from ...models.heatmap import MAX_RADIUS, TEMPLATE_HALF

        return template_half == TEMPLATE_HALF and radius <= MAX_RADIUS

    def surfaces(self, eo_chips, sar_chips, template_half, radius):
        if not self.handles(template_half, radius):
            return self.structural.surfaces(eo_chips, sar_chips, template_half, radius)
        return self.heatmaps(eo_chips, sar_chips, radius)

    def heatmaps(self, eo_chips, sar_chips, radius):
        import torch

        from ...models.heatmap import heatmap_surfaces, prepare_inputs

        size = 2 * radius + 1
        out = np.zeros((len(eo_chips), size, size), np.float32)
        usable = (eo_chips[:, MARGIN:-MARGIN, MARGIN:-MARGIN] > 0).reshape(len(eo_chips), -1).all(axis=1)
        dtype = torch.float16 if self.half else torch.float32
        with torch.no_grad():
            for start in range(0, len(eo_chips), BATCH):
                eo, sar = prepare_inputs(eo_chips[start:start + BATCH], sar_chips[start:start + BATCH], self.card.norm)
                logits = self.net(torch.from_numpy(eo).to(self.device, dtype), torch.from_numpy(sar).to(self.device, dtype))
                out[start:start + BATCH] = heatmap_surfaces(logits, radius, self.card.head)
        return out, usable


class FusedMatcher(HeatmapMatcher):
    """Structural ZNCC and the learned heatmap, each weighted by its own peak height (its confidence)."""

    name = "fused"

    def surfaces(self, eo_chips, sar_chips, template_half, radius):
        structural, usable = self.structural.surfaces(eo_chips, sar_chips, template_half, radius)
        if not self.handles(template_half, radius):
            return structural, usable
        learned, _ = self.heatmaps(eo_chips, sar_chips, radius)
        s = np.clip(structural, 0.0, 1.0)
        ws = s.reshape(len(s), -1).max(axis=1)[:, None, None]
        wl = learned.reshape(len(learned), -1).max(axis=1)[:, None, None]
        return ((ws * s + wl * learned) / np.maximum(ws + wl, 1e-6)).astype(np.float32), usable
