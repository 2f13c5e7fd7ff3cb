"""The `train` and `evaluate` subcommands (argument parsing lives in cli.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..core.errors import CoregError

DEFAULT_INDEX = Path("../shared/data/aligned/index.csv")


def add_data_args(p) -> None:
    p.add_argument("--aligned-index", default=None,
                   help=f"index.csv of aligned pairs (default {DEFAULT_INDEX} when it exists)")
    p.add_argument("--sources", default=None, help="comma-separated sources of the index to use (default all)")
    p.add_argument("--limit-pairs", type=int, default=None, help="use only the first N pairs of the index")
    p.add_argument("--spacenet", action="append", default=[], metavar="EO.tif,SAR.tif,TIEPOINTS.csv",
                   help="a SpaceNet 9 AOI (repeatable)")
    p.add_argument("--folds", type=int, default=5, help="k of the grouped k-fold split")
    p.add_argument("--fold", type=int, default=0, help="the held-out test fold; the next fold validates")
    p.add_argument("--split-seed", type=int, default=0)


def load_pairs(args):
    from .data import assign_folds, load_aligned_pairs, load_spacenet

    pairs = []
    index = Path(args.aligned_index) if args.aligned_index else (DEFAULT_INDEX if DEFAULT_INDEX.exists() else None)
    if index is not None:
        if not index.exists():
            raise CoregError(f"Aligned-pair index not found: {index}.")
        sources = args.sources.split(",") if args.sources else None
        pairs += load_aligned_pairs(index, sources, args.limit_pairs)
    for item in args.spacenet:
        parts = item.split(",")
        if len(parts) != 3:
            raise CoregError(f"--spacenet takes EO.tif,SAR.tif,TIEPOINTS.csv, got '{item}'.")
        pairs.append(load_spacenet(*parts))
    if not pairs:
        raise CoregError("No training data: give --aligned-index and/or --spacenet EO,SAR,CSV.")
    if not 0 <= args.fold < args.folds:
        raise CoregError(f"--fold must be in 0..{args.folds - 1}.")
    folds = assign_folds(pairs, args.folds, args.split_seed)
    return pairs, folds, {"aligned_index": str(index) if index else None, "spacenet": args.spacenet,
                          "sources": args.sources, "pairs": len(pairs), "folds": args.folds, "fold": args.fold,
                          "split_seed": args.split_seed}


def run_train(args) -> int:
    from .train import TrainConfig, parse_overrides, split_pairs, train

    pairs, folds, note = load_pairs(args)
    train_pairs, val_pairs, test_pairs = split_pairs(pairs, folds, args.fold, args.folds)
    note.update(train_pairs=[p.group for p in train_pairs], val_pairs=[p.group for p in val_pairs],
                test_pairs=[p.group for p in test_pairs])
    cfg = TrainConfig(model=args.model, loss=args.loss, sigma=args.sigma, steps=args.steps, batch=args.batch,
                      lr=args.lr, seed=args.seed, device=args.device, val_every=args.val_every,
                      val_samples=args.val_samples, model_overrides=parse_overrides(args.set))
    print(f"training {cfg.model} on {len(train_pairs)} pairs, validating on {len(val_pairs)}, "
          f"fold {args.fold} of {args.folds} held out ({len(test_pairs)} pairs)")
    summary = train(cfg, train_pairs, val_pairs, args.out, note, resume=args.resume, progress=not args.quiet)
    print(json.dumps(summary))
    return 0


def run_train_dense(args) -> int:
    from types import SimpleNamespace

    from .data import assign_folds
    from .dense import DenseConfig, train_dense
    from .dense import load_pairs as load_dense_pairs
    from .train import parse_overrides

    index = Path(args.aligned_index) if args.aligned_index else DEFAULT_INDEX
    if not index.exists():
        raise CoregError(f"Aligned-pair index not found: {index}. Give --aligned-index.")
    import csv

    rows = []
    for path in [index] + ([Path(args.extra)] if args.extra and Path(args.extra).exists() else []):
        with open(path, newline="") as fh:  # the folds of bench/accuracy.py --heldout-fold: the same rows
            rows += list(csv.DictReader(fh))
    folds = assign_folds([SimpleNamespace(source=r["source"]) for r in rows], args.folds, seed=0)
    held_out = {(r["source"], r["id"]) for r, f in zip(rows, folds) if f == args.fold}
    pairs = load_dense_pairs(index, args.corrections, lambda row: (row["source"], row["id"]) not in held_out)
    cfg = DenseConfig(model=args.model, steps=args.steps, minutes=args.minutes, batch=args.batch, crop=args.crop,
                      lr=args.lr, seed=args.seed, device=args.device, folds=args.folds, fold=args.fold,
                      model_overrides=parse_overrides(args.set))
    print(f"dense training of {cfg.model} on {len(pairs)} pairs (fold {args.fold} of {args.folds} held out)", flush=True)
    card = train_dense(pairs, cfg, args.out, log=lambda line: print(line, flush=True))
    print(f"wrote {card}")
    return 0


def run_evaluate(args) -> int:
    """EPE and PCK@1/3/5/10/20 of each model (and the structural matcher) on the held-out fold's tiles."""
    import torch

    from ..models.card import load_weights
    from ..models.torch_ops import resolve_device
    from .chips import StructuralChipMatcher
    from .data import draw_samples
    from .metrics import evaluate_matcher, evaluate_samples
    from .train import split_pairs

    pairs, folds, note = load_pairs(args)
    _, _, test_pairs = split_pairs(pairs, folds, args.fold, args.folds)
    samples = draw_samples(test_pairs, args.samples, seed=20_000 + args.seed, radius=args.radius, augment=False,
                           max_offset=args.radius - 2)
    device = resolve_device(args.device)
    rows = {}
    if args.structural:
        clock = time.perf_counter()
        rows["structural"] = {**evaluate_matcher(StructuralChipMatcher(args.device), samples), "parameters": 0,
                              "seconds": time.perf_counter() - clock}
    for name in args.model:
        model, card = load_weights(Path(name), device)
        clock = time.perf_counter()
        with torch.no_grad():
            result = evaluate_samples(model, card.head, card.norm, samples, device)
        rows[name] = {**result, "model": card.name, "parameters": card.parameters,
                      "train_seconds": card.training.get("train_seconds"), "seconds": time.perf_counter() - clock}
    report = {"data": {**note, "test_pairs": [p.group for p in test_pairs]}, "samples": len(samples),
              "radius": args.radius, "results": rows}
    print(f"{'model':28s} {'EPE':>6s} {'median':>6s} " + " ".join(f"PCK@{k:<3d}" for k in (1, 3, 5, 10, 20)))
    for name, r in rows.items():
        print(f"{name:28s} {r['epe']:6.2f} {r['median']:6.2f} "
              + " ".join(f"{100 * r[f'pck{k}']:6.1f}%" for k in (1, 3, 5, 10, 20)))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, default=lambda v: float(np.asarray(v))))
    return 0
