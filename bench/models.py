"""The U-Net family on the same held-out fold: train each model with the same budget and data, then score
EPE and PCK@1/3/5/10/20 px on the test fold's tiles, next to the structural matcher on the same tiles.

    python bench/models.py --steps 200 --fold 0 [--models unet,siamese_unet] [--device cuda]

Results: bench/results/models.{json,md}; checkpoints in bench/work/models/NAME/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sar_eo_coreg.models.card import load_weights  # noqa: E402
from sar_eo_coreg.models.registry import MODEL_NAMES  # noqa: E402
from sar_eo_coreg.models.torch_ops import resolve_device  # noqa: E402
from sar_eo_coreg.training.chips import StructuralChipMatcher  # noqa: E402
from sar_eo_coreg.training.data import assign_folds, draw_samples, load_aligned_pairs  # noqa: E402
from sar_eo_coreg.training.metrics import evaluate_matcher, evaluate_samples  # noqa: E402
from sar_eo_coreg.training.train import TrainConfig, split_pairs, train  # noqa: E402

INDEX = REPO.parent / "shared" / "data" / "aligned" / "index.csv"


def markdown(rows):
    lines = ["| model | parameters | train steps | train s | EPE px | median px | PCK@1 | PCK@3 | PCK@5 | PCK@10 | PCK@20 |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['parameters'] / 1e6:.2f} M | {r.get('steps', 0)} | {r.get('train_seconds', 0):.0f} | "
                     f"{r['epe']:.2f} | {r['median']:.2f} | " + " | ".join(f"{r[f'pck{k}']:.1%}" for k in (1, 3, 5, 10, 20))
                     + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODEL_NAMES))
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--work", default=str(REPO / "bench" / "work" / "models"))
    args = parser.parse_args(argv)
    pairs = load_aligned_pairs(INDEX)
    train_pairs, val_pairs, test_pairs = split_pairs(pairs, assign_folds(pairs, args.folds), args.fold, args.folds)
    samples = draw_samples(test_pairs, args.samples, seed=20_000, radius=16, augment=False, max_offset=14)
    device = resolve_device(args.device)
    rows = {"structural (no training)": {**evaluate_matcher(StructuralChipMatcher(args.device), samples), "parameters": 0}}
    for name in args.models.split(","):
        out = Path(args.work) / name
        cfg = TrainConfig(model=name, steps=args.steps, batch=args.batch, val_every=max(args.steps // 4, 1),
                          val_samples=128, device=args.device)
        clock = time.perf_counter()
        summary = train(cfg, train_pairs, val_pairs, out, {"fold": args.fold, "folds": args.folds}, progress=False)
        model, card = load_weights(out / "best.pt", device)
        rows[name] = {**evaluate_samples(model, card.head, card.norm, samples, device), "parameters": card.parameters,
                      "steps": summary["steps"], "train_seconds": time.perf_counter() - clock}
        print(name, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in rows[name].items()}), flush=True)
        write(args, rows, len(test_pairs), len(samples), device)  # after each model, so a cut run keeps its rows
    print(markdown(rows))


def write(args, rows, test_pairs, samples, device):
    Path(args.out).mkdir(parents=True, exist_ok=True)
    report = {"fold": args.fold, "folds": args.folds, "test_pairs": test_pairs, "samples": samples, "radius": 16,
              "steps": args.steps, "batch": args.batch, "device": str(device), "results": rows}
    (Path(args.out) / "models.json").write_text(json.dumps(report, indent=2))
    (Path(args.out) / "models.md").write_text(markdown(rows) + "\n")


if __name__ == "__main__":
    main()
