"""Training: `python -m sar_eo_coreg train --model NAME ...`.

Seeded on-the-fly samples from the training folds, validation on a fixed sample set from another fold,
the best checkpoint on validation EPE, resume from the last checkpoint, AMP on CUDA, a metrics CSV."""

from __future__ import annotations

import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..core.errors import CoregError
from ..models.card import ModelCard, Normalisation, save_weights
from ..models.registry import build_model, count_parameters, model_config
from .data import PairImages, Sample, draw_sample, draw_samples, normalisation
from .heatmap_task import LOSSES, gaussian_targets, prepare_inputs
from .metrics import evaluate_samples


@dataclass
class TrainConfig:
    model: str = "unet"
    loss: str = "softmax"
    sigma: float = 1.5  # Gaussian label, px (the paper: 1, the SpaceNet 9 baseline: 13)
    steps: int = 2000
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0
    device: str = "auto"
    val_every: int = 200
    val_samples: int = 256
    model_overrides: dict = field(default_factory=dict)


def safe_num_workers() -> int:
    """DataLoader workers: none inside QGIS (no forking the GUI process), else up to 4."""
    if "qgis" in sys.modules or "qgis.core" in sys.modules:
        return 0
    import os

    return min(4, max(0, (os.cpu_count() or 1) - 1))


class SampleStream:
    """Training samples drawn on the fly; item i is reproducible from (seed, i)."""

    def __init__(self, pairs: Sequence[PairImages], norm: Normalisation, sigma: float, seed: int, length: int):
        self.pairs, self.norm, self.sigma, self.seed, self.length = pairs, norm, sigma, seed, length

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, index])
        sample = None
        while sample is None:
            sample = draw_sample(self.pairs[int(rng.integers(len(self.pairs)))], rng)
        return to_arrays(sample, self.norm, self.sigma)


def to_arrays(sample: Sample, norm: Normalisation, sigma: float):
    eo, sar = prepare_inputs(sample.eo_chip[None], sample.sar_chip[None], norm)
    target = gaussian_targets(sample.offset[None], sigma)
    return eo[0], sar[0], target[0]


def loss_fn(logits, target, kind: str):
    import torch

    if kind == "softmax":  # cross-entropy against the normalised Gaussian (a spatial softmax)
        flat = logits.flatten(1)
        prob_target = target.flatten(1) / target.flatten(1).sum(dim=1, keepdim=True).clamp_min(1e-6)
        return -(prob_target * torch.log_softmax(flat, dim=1)).sum(dim=1).mean()
    out = logits[:, 0]
    if kind == "mse":
        return ((out - target) ** 2).mean()
    if kind == "wmse":  # the papers' weighted MSE: the few peak pixels count more
        return ((1.0 + 20.0 * target) * (out - target) ** 2).mean()
    raise CoregError(f"Unknown loss '{kind}'. Choose one of: {', '.join(LOSSES)}.")


def train(cfg: TrainConfig, train_pairs: List[PairImages], val_pairs: List[PairImages], out_dir, data_note: dict,
          resume: bool = False, progress: bool = True, log=print, until: Optional[int] = None) -> dict:
    """Train `cfg.model`; writes OUT/last.pt, OUT/best.pt (+ .json/.sha256) and OUT/metrics.csv.
    `until` stops early at that step (as an interruption would); `resume` continues from OUT/last.pt."""
    import torch

    from ..models.torch_ops import resolve_device

    if cfg.loss not in LOSSES:
        raise CoregError(f"Unknown loss '{cfg.loss}'. Choose one of: {', '.join(LOSSES)}.")
    if not train_pairs or not val_pairs:
        raise CoregError("Training needs pairs on both the training and the validation side.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    device = resolve_device(cfg.device)
    norm = normalisation(train_pairs)
    model = build_model(cfg.model, **cfg.model_overrides).to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=cfg.lr, total_steps=max(cfg.steps, 2),
                                                   pct_start=0.1)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda")
    head = "softmax" if cfg.loss == "softmax" else "regression"
    card = ModelCard(cfg.model, model_config(cfg.model, **cfg.model_overrides), head, norm,
                     training={**data_note, **cfg.__dict__}, parameters=count_parameters(model))
    start, best, elapsed = 0, float("inf"), 0.0
    last_path = out / "last.pt"
    if resume and last_path.exists():
        state = torch.load(last_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        schedule.load_state_dict(state["schedule"])
        start, best, elapsed = state["step"], state["best"], state["elapsed"]
        log(f"resumed at step {start}")
    val_set = draw_samples(val_pairs, cfg.val_samples, seed=10_000 + cfg.seed, radius=16, augment=False,
                           max_offset=14)
    stream = SampleStream(train_pairs, norm, cfg.sigma, cfg.seed, cfg.steps * cfg.batch)
    sampler = range(start * cfg.batch, min(cfg.steps, until or cfg.steps) * cfg.batch)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(stream, list(sampler)), batch_size=cfg.batch, num_workers=safe_num_workers(),
        shuffle=False, persistent_workers=False)
    metrics_path = out / "metrics.csv"
    new_file = not (resume and metrics_path.exists())
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=start, unit="step", file=sys.stderr, dynamic_ncols=True)
    step, clock, running = start, time.perf_counter(), []
    with open(metrics_path, "w" if new_file else "a", newline="") as fh:
        writer = csv.writer(fh)
        if new_file:
            writer.writerow(["step", "train_loss", "val_epe", "val_pck1", "val_pck3", "val_pck5", "lr", "elapsed_s"])
        model.train()
        for eo, sar, target in loader:
            eo, sar, target = eo.to(device), sar.to(device), target.to(device)
            with torch.autocast(device.type, dtype=torch.float16, enabled=device.type == "cuda"):
                logits = model(eo, sar)
            loss = loss_fn(logits.float(), target, cfg.loss)
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            schedule.step()
            step += 1
            running.append(loss.item())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}")
            if step % cfg.val_every == 0 or step == cfg.steps:
                model.eval()
                scores = evaluate_samples(model, head, norm, val_set, device)
                model.train()
                now = elapsed + time.perf_counter() - clock
                writer.writerow([step, f"{np.mean(running):.5f}", f"{scores['epe']:.4f}", f"{scores['pck1']:.4f}",
                                 f"{scores['pck3']:.4f}", f"{scores['pck5']:.4f}", f"{schedule.get_last_lr()[0]:.6f}",
                                 f"{now:.1f}"])
                fh.flush()
                running = []
                if scores["epe"] < best:
                    best = scores["epe"]
                    card.metrics = {"val": scores, "step": step}
                    card.training["train_seconds"] = round(now, 1)
                    save_weights(out / "best.pt", model, card)
                torch.save({"model": model.state_dict(), "optimiser": optimiser.state_dict(),
                            "schedule": schedule.state_dict(), "step": step, "best": best, "elapsed": now},
                           out / "last.pt.tmp")
                (out / "last.pt.tmp").replace(last_path)
    if bar is not None:
        bar.close()
    return {"best_val_epe": best, "steps": step, "parameters": card.parameters,
            "train_seconds": elapsed + time.perf_counter() - clock}


def split_pairs(pairs: List[PairImages], folds: np.ndarray, test_fold: int, k: int):
    """(train, validation, test): test = test_fold, validation = the next fold, training = the rest."""
    val_fold = (test_fold + 1) % k
    pick = lambda keep: [p for p, f in zip(pairs, folds) if keep(f)]  # noqa: E731
    return (pick(lambda f: f not in (test_fold, val_fold)), pick(lambda f: f == val_fold),
            pick(lambda f: f == test_fold))


def parse_overrides(items: Optional[List[str]]) -> dict:
    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        try:
            out[key] = int(value)
        except ValueError:
            out[key] = {"true": True, "false": False}.get(value.lower(), value)
    return out
