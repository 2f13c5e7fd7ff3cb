"""A trained network -> the engine's model files: NAME.eo.onnx and NAME.sar.onnx (one graph per modality:
descriptors and matchability at full resolution, any image size) and the model card NAME.json (config,
normalisation, training, metrics, each file's sha256). Export needs torch; running them needs only onnxruntime."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .card import ModelCard, card_dict
from .descriptor import CARD_FORMAT, MODALITIES

OPSET = 17
TRACE_SIZE = 128  # the traced image size (height and width stay dynamic)


class _Branch(nn.Module):
    def __init__(self, net, modality: str):
        super().__init__()
        self.net, self.modality = net, modality

    def forward(self, image):
        descriptors, logits = self.net.describe(image, self.modality)
        return descriptors, torch.sigmoid(logits)


def export_onnx(net, card: ModelCard, stem, fuse_cfog: float = 0.0) -> Path:
    """Write STEM.eo.onnx, STEM.sar.onnx and STEM.json (each through a temporary name); returns the card's path.
    `fuse_cfog` > 0: the engine puts CFOG's channels beside the learned ones, these weighted by it."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    net = net.cpu().eval()
    files = {}
    for modality in MODALITIES:
        path = stem.with_name(f"{stem.name}.{modality}.onnx")
        tmp = path.with_name(path.name + ".tmp")
        branch = _Branch(net, modality).eval()  # a new module trains by default, and export restores its mode
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # tracer notes on shape arithmetic
            torch.onnx.export(branch, (torch.zeros(1, 1, TRACE_SIZE, TRACE_SIZE),), str(tmp),
                              input_names=["image"], output_names=["descriptors", "matchability"],
                              dynamic_axes={"image": {2: "height", 3: "width"},
                                            "descriptors": {2: "height", 3: "width"},
                                            "matchability": {2: "height", 3: "width"}},
                              opset_version=OPSET, dynamo=False)
        os.replace(tmp, path)
        files[modality] = {"file": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    card_path = stem.with_name(f"{stem.name}.json")
    body = {"format": CARD_FORMAT, **card_dict(card), "fuse_cfog": float(fuse_cfog), "files": files,
            "exported_with": {"torch": torch.__version__, "opset": OPSET}}
    tmp = card_path.with_name(card_path.name + ".tmp")
    tmp.write_text(json.dumps(body, indent=2))
    os.replace(tmp, card_path)
    return card_path
