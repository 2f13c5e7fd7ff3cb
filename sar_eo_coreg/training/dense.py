"""Dense self-supervised descriptor training: `python -m sar_eo_coreg train-dense --model NAME ...`.

A sample is an EO crop and a SAR crop of an aligned pair. The EO crop is resampled through a random smooth
displacement (shift, small affine, a coarse random field), so EO crop pixel p shows the ground of SAR crop
position p + disp(p): thousands of known correspondences per step. Both get photometric changes, the SAR
speckle-like noise. The loss is a correlation cross-entropy: each EO point's descriptor against the SAR
descriptors within +-RADIUS px of its true position (softmax over the shifts, the target split bilinearly over
the four pixels around the true position); the matchability head learns whether the point's peak lands within
1 px. Pairs that are not pixel-aligned (s1s2_volkov) are used only at their re-measured windows
(bench/pair_check.py), with the window's offset added; withdrawn sources are never read."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import List, Optional

import cv2
import numpy as np

from ..core.errors import CoregError
from ..core.raster import read_pixel_image
from .data import WITHDRAWN, normalisation

NOT_PIXEL_ALIGNED = ("s1s2_volkov",)  # used only at re-measured windows, corrected
WINDOW_HALF = 16  # the loss correlates (33 px)^2 windows, as the engine does (coarse_to_fine.HALF)


@dataclass
class DenseConfig:
    model: str = "siamese_corr"
    steps: int = 1500
    minutes: float = 40.0  # wall-clock budget; training stops at whichever comes first
    batch: int = 8
    crop: int = 128
    radius: int = 6  # shifts the loss scores (the true shift stays within radius - 1)
    points: int = 256  # correspondences per crop
    temperature: float = 0.02
    lr: float = 2e-3
    seed: int = 0
    device: str = "cpu"  # auto, cpu or cuda
    warp_px: float = 3.0  # amplitude of the random field (the shift is up to radius / 2 on top)
    folds: int = 5
    fold: int = 0  # held out (the bench's --heldout-fold)
    model_overrides: dict = field(default_factory=dict)


@dataclass
class TrainPair:
    group: str
    eo: np.ndarray  # uint8, 0 = nodata
    sar: np.ndarray
    centres: Optional[np.ndarray]  # (N, 2) allowed crop centres, or None: anywhere
    offsets: Optional[np.ndarray]  # (N, 2) SAR minus EO position at those centres (re-measured)


def load_pairs(index_csv, corrections=None, fold_of=None) -> List[TrainPair]:
    """The index's pairs but withdrawn ones; not-pixel-aligned sources only where `corrections` (a
    pair_check.json) has reliable windows."""
    index_csv = Path(index_csv)
    windows = {}
    if corrections and Path(corrections).exists():
        for rec in json.loads(Path(corrections).read_text()):
            rows = np.array(rec["offsets"], float).reshape(-1, 6)
            windows[(rec["source"], rec["id"])] = rows[(rows[:, 4] >= 0.15) & (rows[:, 5] >= 1.2)]
    pairs = []
    with open(index_csv, newline="") as fh:
        for row in csv.DictReader(fh):
            if row["source"] in WITHDRAWN or (fold_of and not fold_of(row)):
                continue
            centres = offsets = None
            if row["source"] in NOT_PIXEL_ALIGNED:
                rows = windows.get((row["source"], row["id"]))
                if rows is None or len(rows) == 0:
                    continue
                centres, offsets = rows[:, :2], rows[:, 2:4]
            root = index_csv.parent if (index_csv.parent / row["eo"]).exists() else index_csv.parent.parent
            pairs.append(TrainPair(f"{row['source']}/{row['id']}", read_pixel_image(root / row["eo"], "EO"),
                                   read_pixel_image(root / row["sar"], "SAR"), centres, offsets))
    if not pairs:
        raise CoregError(f"No training pairs in {index_csv} (after leaving out withdrawn and uncorrected ones).")
    return pairs


def _field(rng, size: int, warp_px: float, shift_px: float) -> np.ndarray:
    """(size, size, 2) smooth displacement: shift + small affine + a bicubic 4x4 random field."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) - size / 2
    shift = rng.uniform(-shift_px, shift_px, 2)
    linear = rng.normal(0, 0.02, (2, 2))
    coarse = rng.normal(0, warp_px / 2, (4, 4, 2)).astype(np.float32)
    smooth = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.stack([shift[0] + linear[0, 0] * xs + linear[0, 1] * ys,
                     shift[1] + linear[1, 0] * xs + linear[1, 1] * ys], -1).astype(np.float32) + smooth


def _photometric(image: np.ndarray, rng, speckle: bool) -> np.ndarray:
    valid = image > 0
    x = image.astype(np.float32) / 255.0
    x = np.clip(x, 1e-3, 1) ** rng.uniform(0.7, 1.4) * rng.uniform(0.8, 1.2) + rng.uniform(-0.1, 0.1)
    if speckle:  # the display image is log-scaled: multiplicative speckle becomes additive noise
        x = x + rng.normal(0, rng.uniform(0.02, 0.08), x.shape)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 1.2))
    return np.where(valid, np.clip(x * 254 + 1, 1, 255), 0).astype(np.uint8)


def draw(pair: TrainPair, rng, cfg: DenseConfig):
    """(eo crop, sar crop, disp): EO crop pixel p shows SAR crop position p + disp(p); None when the draw
    lands on too much nodata."""
    size, margin = cfg.crop, cfg.radius + int(cfg.warp_px * 3) + 4
    h, w = pair.eo.shape
    if pair.centres is None:
        centre = rng.uniform([size / 2 + margin] * 2, [w - size / 2 - margin, h - size / 2 - margin])
        base = np.zeros(2)
    else:
        k = rng.integers(len(pair.centres))
        centre, base = pair.centres[k] + rng.uniform(-16, 16, 2), pair.offsets[k]
    disp = _field(rng, size, cfg.warp_px, cfg.radius / 2)
    origin = centre - size / 2
    grid = np.mgrid[0:size, 0:size][::-1].transpose(1, 2, 0).astype(np.float32)
    eo_map = grid + disp + origin.astype(np.float32)
    eo = cv2.remap(pair.eo, eo_map[..., 0], eo_map[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    sar_map = grid + (origin + base).astype(np.float32)
    sar = cv2.remap(pair.sar, sar_map[..., 0], sar_map[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if (eo == 0).mean() > 0.2 or (sar == 0).mean() > 0.2:
        return None
    return _photometric(eo, rng, False), _photometric(sar, rng, True), disp


def dense_loss(eo_desc, sar_desc, logits, disp, valid, cfg: DenseConfig, rng):
    """Correlation cross-entropy of windowed descriptor correlations, as the engine correlates them, and the
    matchability BCE, at `cfg.points` random valid points per crop. For every shift d in [-radius, radius]^2
    the score at p is the mean over a (2 WINDOW_HALF + 1)^2 window of eo(p + u) . sar(p + u + d) (per-shift
    product maps, window sums from their integral images); the target is the true shift disp(p), split
    bilinearly over its four integer neighbours. eo_desc, sar_desc (B, D, H, W); logits (B, 1, H, W) of the
    EO side; disp (B, H, W, 2); valid (B, H, W): points whose windows and shifts stay inside."""
    import torch
    import torch.nn.functional as F  # noqa: N812 (PyTorch's convention)

    b, _, h, w = eo_desc.shape
    r, half = cfg.radius, WINDOW_HALF
    side = 2 * r + 1
    padded = F.pad(sar_desc, (r, r, r, r))
    products = torch.stack([(eo_desc * padded[:, :, r + dy:r + dy + h, r + dx:r + dx + w]).sum(1)
                            for dy in range(-r, r + 1) for dx in range(-r, r + 1)], 1)  # (B, S, H, W)
    integral = F.pad(products.cumsum(2).cumsum(3), (1, 0, 1, 0))
    batch, ys, xs = [], [], []
    for i in range(b):
        py, px = np.nonzero(valid[i].cpu().numpy())
        pick = rng.choice(len(px), min(cfg.points, len(px)), replace=False) if len(px) else []
        batch += [i] * len(pick)
        ys += py[pick].tolist()
        xs += px[pick].tolist()
    if not batch:
        return None, None, None
    bi, y, x = (torch.tensor(v, device=eo_desc.device) for v in (batch, ys, xs))
    y0, y1, x0, x1 = y - half, y + half + 1, x - half, x + half + 1
    window = (integral[bi, :, y1, x1] - integral[bi, :, y0, x1] - integral[bi, :, y1, x0] + integral[bi, :, y0, x0])
    score = window / ((2 * half + 1) ** 2 * cfg.temperature)  # (K, S)
    truth = disp[bi, y, x]
    base = torch.floor(truth).long()
    frac = truth - base
    target = torch.zeros_like(score)
    for oy, ox, wgt in ((0, 0, (1 - frac[:, 0]) * (1 - frac[:, 1])), (0, 1, frac[:, 0] * (1 - frac[:, 1])),
                        (1, 0, (1 - frac[:, 0]) * frac[:, 1]), (1, 1, frac[:, 0] * frac[:, 1])):
        target.scatter_add_(1, ((base[:, 1] + oy + r) * side + (base[:, 0] + ox + r))[:, None], wgt[:, None])
    loss = -(target * F.log_softmax(score, dim=1)).sum(1).mean()
    with torch.no_grad():
        best = score.argmax(1)
        peak = torch.stack([best % side - r, best // side - r], -1).float()
        hit = ((peak - truth).norm(dim=1) <= 1.0).float()
    match_loss = F.binary_cross_entropy_with_logits(logits[bi, 0, y, x], hit)
    return loss, match_loss, hit.mean()


def train_dense(pairs: List[TrainPair], cfg: DenseConfig, out_stem, log=print):
    """Train cfg.model's descriptor readout (and the network under it) densely; export to ONNX at
    out_stem.{eo,sar}.onnx + out_stem.json; returns the card's path."""
    import torch

    from ..models.card import ModelCard
    from ..models.export import export_onnx
    from ..models.registry import build_model, count_parameters, model_config
    from ..models.torch_ops import resolve_device

    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    device = resolve_device(cfg.device)
    net = build_model(cfg.model, **cfg.model_overrides).to(device)
    norm = normalisation(pairs)
    optimiser = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, cfg.lr, total_steps=cfg.steps, pct_start=0.1)
    margin = WINDOW_HALF + cfg.radius + 1  # points whose windows and shifts stay inside the crop
    inside = np.zeros((cfg.crop, cfg.crop), bool)
    inside[margin:-margin, margin:-margin] = True
    start, curve = time.perf_counter(), []
    net.train()
    step = 0
    for step in range(cfg.steps):
        crops = []
        while len(crops) < cfg.batch:
            sample = draw(pairs[rng.integers(len(pairs))], rng, cfg)
            if sample is not None:
                crops.append(sample)
        eo = torch.from_numpy(np.stack([_normalised(c[0], norm.eo_mean, norm.eo_std) for c in crops]))[:, None].to(device)
        sar = torch.from_numpy(np.stack([_normalised(c[1], norm.sar_mean, norm.sar_std) for c in crops]))[:, None].to(device)
        disp = torch.from_numpy(np.stack([c[2] for c in crops])).to(device)
        valid = torch.from_numpy(np.stack([(c[0] > 0) & inside & (np.abs(c[2]).max(-1) < cfg.radius - 1) for c in crops]))
        eo_desc, logits = net.describe(eo, "eo")
        sar_desc, _ = net.describe(sar, "sar")
        loss, match_loss, hit = dense_loss(eo_desc, sar_desc, logits, disp, valid, cfg, rng)
        if loss is None:
            continue
        optimiser.zero_grad()
        (loss + 0.1 * match_loss).backward()
        optimiser.step()
        schedule.step()
        minutes = (time.perf_counter() - start) / 60
        if step % 25 == 0:
            curve.append({"step": step, "loss": round(loss.item(), 4), "hit_1px": round(hit.item(), 4),
                          "minutes": round(minutes, 2)})
            log(f"step {step}: loss {loss.item():.3f}, peak within 1 px {hit.item():.1%}, {minutes:.1f} min")
        if minutes > cfg.minutes:
            log(f"time budget reached at step {step}")
            break
    card = ModelCard(cfg.model, model_config(cfg.model, **cfg.model_overrides), "descriptor", norm,
                     training={"task": "dense", **asdict(cfg), "steps_done": step + 1, "pairs": [p.group for p in pairs],
                               "minutes": round((time.perf_counter() - start) / 60, 1), "device": device.type,
                               "threads": torch.get_num_threads()},
                     metrics={"curve": curve}, parameters=count_parameters(net))
    return export_onnx(net, card, out_stem)


def _normalised(image, mean, std):
    return np.where(image > 0, (image / 255.0 - mean) / std, 0.0).astype(np.float32)
