"""Tile-level evaluation: the engine's own peak finding on each matcher's surfaces, against the known offset."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..models.card import Normalisation
from .chips import find_peaks
from .data import Sample
from .heatmap_task import TEMPLATE_HALF, heatmap_surfaces, prepare_inputs

PCK_THRESHOLDS = (1, 3, 5, 10, 20)
BATCH = 64


def scores(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray) -> dict:
    """EPE (mean end-point error of the best peak, px) and PCK@k over all tiles, as the papers report them;
    `valid`: the share of tiles whose peak the engine would accept (confident, inside the search area)."""
    error = np.hypot(*(predicted - truth).T)
    out = {"n": int(len(error)), "epe": float(error.mean()), "median": float(np.median(error)),
           "valid": float(valid.mean())}
    for k in PCK_THRESHOLDS:
        out[f"pck{k}"] = float((error <= k).mean())
    return out


def _by_radius(samples: Sequence[Sample]):
    groups = {}
    for i, s in enumerate(samples):
        groups.setdefault(s.radius, []).append(i)
    return groups


def evaluate_samples(model, head: str, norm: Normalisation, samples: Sequence[Sample], device) -> dict:
    import torch

    shifts, valid = np.zeros((len(samples), 2)), np.zeros(len(samples), bool)
    with torch.no_grad():
        for radius, members in _by_radius(samples).items():
            for start in range(0, len(members), BATCH):
                idx = members[start:start + BATCH]
                eo, sar = prepare_inputs(np.stack([samples[i].eo_chip for i in idx]),
                                         np.stack([samples[i].sar_chip for i in idx]), norm)
                logits = model(torch.from_numpy(eo).to(device), torch.from_numpy(sar).to(device))
                batch = find_peaks(heatmap_surfaces(logits, radius, head), radius, np.ones(len(idx), bool))
                shifts[idx], valid[idx] = batch.shift, batch.valid
    return scores(shifts, np.array([s.offset for s in samples]), valid)


def evaluate_matcher(matcher, samples: Sequence[Sample]) -> dict:
    """The same tiles through an engine matcher (e.g. the structural one)."""
    shifts, valid = np.zeros((len(samples), 2)), np.zeros(len(samples), bool)
    for radius, members in _by_radius(samples).items():
        batch = matcher.match(np.stack([samples[i].eo_chip for i in members]),
                              np.stack([samples[i].sar_chip for i in members]), TEMPLATE_HALF, radius)
        shifts[members], valid[members] = batch.shift, batch.valid
    return scores(shifts, np.array([s.offset for s in samples]), valid)
