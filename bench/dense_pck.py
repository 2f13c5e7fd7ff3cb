"""Dense PCK of descriptors on the held-out fold: CFOG against learned models (their ONNX files, as the engine
runs them), on the dense training task's crops (random smooth warps, photometric changes, speckle; volkov pairs
only at their re-measured windows). A point counts when the peak of its 33-px window correlation over +-6 px
lands within 1 px (PCK@1) or 2 px (PCK@2) of the truth. Also the descriptors' CPU time per 1024².

    python bench/dense_pck.py --model default [--model NAME ...] [--crops 200]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from pairs import EXTRA, SHARED, aligned_pairs  # noqa: E402

from sar_eo_coreg.core.features import CfogDescriptor  # noqa: E402
from sar_eo_coreg.models.descriptor import LearnedDescriptor  # noqa: E402
from sar_eo_coreg.training.data import assign_folds  # noqa: E402
from sar_eo_coreg.training.dense import WINDOW_HALF, DenseConfig, draw, load_pairs  # noqa: E402


def peak_errors(describe, crops, cfg: DenseConfig, rng) -> np.ndarray:
    """Per point: distance of the windowed-correlation peak from the true shift, px."""
    import torch.nn.functional as F  # noqa: N812

    r, half = cfg.radius, WINDOW_HALF
    side = 2 * r + 1
    errors = []
    for eo, sar, disp in crops:
        e = torch.from_numpy(describe(eo, "eo"))[None]
        s = torch.from_numpy(describe(sar, "sar"))[None]
        e, s = e - F.avg_pool2d(e, 2 * half + 1, 1, half), s - F.avg_pool2d(s, 2 * half + 1, 1, half)  # zero-mean
        h, w = eo.shape
        padded = F.pad(s, (r, r, r, r))
        energy = F.pad((s * s).sum(1), (r, r, r, r))
        shifts = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
        prods = torch.stack([(e * padded[:, :, r + dy:r + dy + h, r + dx:r + dx + w]).sum(1) for dy, dx in shifts], 1)[0]
        energies = torch.stack([energy[:, r + dy:r + dy + h, r + dx:r + dx + w] for dy, dx in shifts], 1)[0]
        integral = F.pad(prods.cumsum(1).cumsum(2), (1, 0, 1, 0))
        integral_energy = F.pad(energies.cumsum(1).cumsum(2), (1, 0, 1, 0))
        m = half + r + 1
        ok = np.zeros((h, w), bool)
        ok[m:-m, m:-m] = True
        ys, xs = np.nonzero(ok & (eo > 0) & (np.abs(disp).max(-1) < r - 1))
        pick = rng.choice(len(xs), min(cfg.points, len(xs)), replace=False)
        y, x = torch.from_numpy(ys[pick]), torch.from_numpy(xs[pick])
        sums = [window_sums(table, y, x, half) for table in (integral, integral_energy)]
        best = (sums[0] / sums[1].clamp_min(1e-9).sqrt()).argmax(0).numpy()  # the NCC peak
        peak = np.stack([best % side - r, best // side - r], -1)
        errors.append(np.hypot(*(peak - disp[ys[pick], xs[pick]]).T))
    return np.concatenate(errors)


def window_sums(table, y, x, half):
    """Sums over (2 half + 1)^2 windows centred at (y, x) from an integral image (S, H + 1, W + 1)."""
    return (table[:, y + half + 1, x + half + 1] - table[:, y - half, x + half + 1]
            - table[:, y + half + 1, x - half] + table[:, y - half, x - half])


def per_megapixel_seconds(describe, image) -> float:
    start = time.perf_counter()
    describe(image, "eo")
    return (time.perf_counter() - start) / (image.size / 1024**2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", default=[], help="model NAME or card PATH.json (repeatable)")
    parser.add_argument("--crops", type=int, default=200)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", default=str(REPO / "bench" / "results" / "dense_pck.json"))
    args = parser.parse_args(argv)
    rows = aligned_pairs(EXTRA)  # the fold split of bench/accuracy.py --heldout-fold
    folds = assign_folds([SimpleNamespace(source=r["source"]) for r in rows], 5, seed=0)
    held_out = {(r["source"], r["id"]) for r, f in zip(rows, folds) if f == args.fold}
    pairs = load_pairs(SHARED / "aligned" / "index.csv", REPO / "bench" / "results" / "pair_check.json",
                       lambda row: (row["source"], row["id"]) in held_out)
    cfg = DenseConfig(points=64)
    rng = np.random.default_rng(args.seed)
    crops = []
    while len(crops) < args.crops:
        sample = draw(pairs[rng.integers(len(pairs))], rng, cfg)
        if sample is not None:
            crops.append(sample)
    cfog = CfogDescriptor()
    describers = {"cfog": cfog}
    for name in args.model:
        learned = LearnedDescriptor("cpu", name)
        describers[learned.name] = learned
    image = np.clip(np.random.default_rng(0).normal(120, 40, (1024, 1024)), 1, 255).astype(np.uint8)
    results = {}
    for name, describe in describers.items():
        errors = peak_errors(describe, crops, cfg, np.random.default_rng(args.seed))
        results[name] = {"points": int(len(errors)), "pck1": float((errors <= 1).mean()),
                         "pck2": float((errors <= 2).mean()), "s_per_1024sq": per_megapixel_seconds(describe, image),
                         "pairs": len(pairs), "crops": len(crops)}
        print(name, json.dumps(results[name]), flush=True)
    Path(args.out).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
