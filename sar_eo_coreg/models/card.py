"""The model card and the training checkpoints: what a weights file carries besides its tensors (the network's
name and options, the input normalisation, how it was trained and scored), and the .pt files train writes and
evaluate and the ONNX export read."""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import CoregError


@dataclass
class Normalisation:
    """Mean and standard deviation of valid pixels (as 0..1), computed on the training split."""

    eo_mean: float = 0.5
    eo_std: float = 0.25
    sar_mean: float = 0.5
    sar_std: float = 0.25



@dataclass
class ModelCard:
    """What a weights file carries besides the tensors."""

    name: str
    config: dict
    head: str  # softmax | regression
    norm: Normalisation
    training: dict = field(default_factory=dict)  # data, folds, steps, seed, loss, sigma, time
    metrics: dict = field(default_factory=dict)  # held-out EPE / PCK
    parameters: int = 0
    sha256: str = ""  # of the weights file, set when loaded (not stored inside the file)


def card_dict(card: ModelCard) -> dict:
    """The card as stored (its sha256 is the file's, not stored inside it)."""
    return {**{k: v for k, v in card.__dict__.items() if k != "sha256"}, "norm": card.norm.__dict__}


def save_weights(path, model, card: ModelCard, half: bool = True) -> str:
    """Write {card, state_dict} (fp16 to halve the size) atomically; returns the file's sha256, which is
    also written to PATH.sha256."""
    import torch

    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    buffer = io.BytesIO()
    torch.save({"card": card_dict(card), "state_dict": state}, buffer)
    data = buffer.getvalue()
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    digest = hashlib.sha256(data).hexdigest()
    Path(f"{path}.sha256").write_text(f"{digest}  {Path(path).name}\n")
    Path(f"{path}.json").write_text(json.dumps({**card_dict(card), "sha256": digest}, indent=2))
    return digest


def load_weights(path, device="cpu"):
    """(network in eval mode, ModelCard with the file's sha256). Checks it against PATH.sha256 when present."""
    import torch

    from .registry import build_model

    path = Path(path)
    if not path.is_file():
        raise CoregError(f"Model weights not found: {path}.")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    sidecar = Path(f"{path}.sha256")
    if sidecar.exists() and sidecar.read_text().split()[0] != digest:
        raise CoregError(f"Model weights {path} do not match their sha256 (corrupt or partial copy). Copy them again.")
    try:  # weights_only: a weights file is data, never code
        blob = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 (garbage raises anything from the unpickler: it is not a model file)
        raise CoregError(f"{path} is not a weights file of this plugin ({type(exc).__name__} while reading it). "
                         "Give a .pt written by 'python -m sar_eo_coreg train'.") from None
    try:
        raw = blob["card"]
        card = ModelCard(**{**raw, "norm": Normalisation(**raw["norm"]), "sha256": digest})
        model = build_model(card.name, **card.config)
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in blob["state_dict"].items()})
    except (KeyError, RuntimeError, TypeError, ValueError, AttributeError) as exc:
        reason = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise CoregError(f"{path} is not a weights file of this plugin ({reason}). Give a .pt written by "
                         "'python -m sar_eo_coreg train'.") from None
    return model.to(device).eval(), card
