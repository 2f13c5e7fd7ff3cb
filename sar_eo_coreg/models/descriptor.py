"""Learned descriptors in the dense engine's descriptor slot (core.features.Descriptor), run by onnxruntime
(no torch), and the one function that picks the descriptor a request asks for. The front ends (CLI, bench)
pass it to the pipeline.

A model is three files in a weights folder: NAME.json (the card) beside NAME.eo.onnx and NAME.sar.onnx
(models/export.py writes them)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..core.choices import Matcher
from ..core.device import CUDA_PROVIDER, onnx_providers
from ..core.environment import WEIGHTS_ENV
from ..core.errors import CoregError
from ..core.features import CfogDescriptor, Descriptor, structural_descriptor
from ..core.threads import engine_threads

CARD_FORMAT = "sar_eo_coreg.onnx/1"
MODALITIES = ("eo", "sar")
REPO_WEIGHTS = Path(__file__).resolve().parents[2] / "weights"  # a checkout's weights/ folder (outside the zip)
DEFAULT_MODEL = "default"


def find_model(name_or_path: Optional[str] = None) -> Path:
    """A model card: an explicit NAME.json path, or NAME.json in $SAR_EO_COREG_WEIGHTS, then the checkout's
    weights/. Nothing is ever downloaded."""
    name = name_or_path or DEFAULT_MODEL
    if name.endswith(".json") or os.sep in name:
        return Path(name)
    folders = [Path(p) for p in os.environ.get(WEIGHTS_ENV, "").split(os.pathsep) if p] + [REPO_WEIGHTS]
    for folder in folders:
        if (folder / f"{name}.json").is_file():
            return folder / f"{name}.json"
    raise CoregError(f"No model named '{name}' in {', '.join(str(f) for f in folders)}. Put {name}.json with "
                     f"{name}.eo.onnx and {name}.sar.onnx there, set {WEIGHTS_ENV} to its folder, or give "
                     "--model PATH.json.")


def read_card(path: Path) -> dict:
    """The card, with its ONNX files checked against their sha256."""
    not_ours = f"{path} is not a model card of this plugin"
    if not path.is_file():
        raise CoregError(f"Model card not found: {path}.")
    try:
        card = json.loads(path.read_text())
        files = {m: card["files"][m] for m in MODALITIES}
        ok = card.get("format") == CARD_FORMAT and all(isinstance(v, (int, float)) for v in card["norm"].values())
    except (ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        raise CoregError(f"{not_ours}. Give a NAME.json written by 'python -m sar_eo_coreg train-dense'.")
    for entry in files.values():
        onnx = path.with_name(entry["file"])
        if not onnx.is_file():
            raise CoregError(f"{onnx} is missing: copy it beside {path.name}.")
        if hashlib.sha256(onnx.read_bytes()).hexdigest() != entry["sha256"]:
            raise CoregError(f"{onnx} does not match its sha256 in {path.name} (corrupt or partial copy). Copy it again.")
    return card


class LearnedDescriptor(Descriptor):
    """A learned model's per-modality descriptors (L2-normalised), optionally beside CFOG's channels."""

    def __init__(self, device: str = "auto", model: str = None):
        try:
            import onnxruntime
        except ImportError:
            raise CoregError("The learned matcher needs onnxruntime, which this Python lacks. Use Set up environment "
                             "(or pip install -r requirements.txt), or --matcher structural.") from None
        path = find_model(model)
        self.card = read_card(path)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = engine_threads()
        self.sessions = {m: onnxruntime.InferenceSession(str(path.with_name(self.card["files"][m]["file"])), options,
                                                         providers=onnx_providers(device)) for m in MODALITIES}
        self.fuse = float(self.card.get("fuse_cfog", 0.0))
        self.use_matchability = bool(self.card.get("matchability_weight", False))  # the head weights the field fit
        self.name = f"learned:{self.card['name']}" + (f"+cfog*{self.fuse:g}" if self.fuse > 0 else "")
        self.sha256 = self.card["files"]["eo"]["sha256"]
        self.weights_path = str(path)
        cuda = self.sessions["eo"].get_providers()[0] == CUDA_PROVIDER
        self.device = "CUDA GPU (onnxruntime)" if cuda else "CPU (onnxruntime)"

    def run(self, image: np.ndarray, modality: str):
        """(descriptors (D, H, W), matchability (H, W)) of a uint8 image (0 = nodata)."""
        norm = self.card["norm"]
        mean, std = norm[f"{modality}_mean"], norm[f"{modality}_std"]
        x = np.where(image > 0, (image / 255.0 - mean) / std, 0.0).astype(np.float32)  # nodata: 0, as in training
        descriptors, matchability = self.sessions[modality].run(None, {"image": x[None, None]})
        return descriptors[0], matchability[0, 0]

    def __call__(self, image, modality):
        return self.with_matchability(image, modality)[0]

    def with_matchability(self, image, modality):
        learned, matchability = self.run(image, modality)
        if self.fuse > 0:
            learned = np.concatenate([CfogDescriptor()(image, modality), self.fuse * learned])
        return learned, (matchability if self.use_matchability else None)


def descriptor_for(params) -> Descriptor:
    """The descriptor a request (CoregParams) asks for: a learned model's (name or card path, default the
    shipped one) or the engine's CFOG."""
    if Matcher.parse(params.matcher).needs_model:
        return LearnedDescriptor(params.device, params.model)
    return structural_descriptor(params)
