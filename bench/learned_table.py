"""CFOG against the learned descriptors in the engine, on the held-out fold (the pairs the shipped model never
saw), every protocol, per source: from bench/accuracy.py runs named heldout_<warp>_<model>, e.g.

    python bench/accuracy.py --warp random --heldout-fold 0 --methods zero,structural,learned --model default \\
        --name heldout_random_default
    python bench/learned_table.py --models default,fused

Headline truth as in bench/accuracy.py (re-measured for s1s2_volkov). Writes bench/results/learned.md."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from publish import publish  # bench/ is the script's folder

RESULTS = Path(__file__).resolve().parent / "results"
WARPS = ("random", "strong", "relief", "sine")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="default,fused", help="the <model> parts of the result names")
    args = parser.parse_args(argv)
    lines = ["| protocol | source | scenes | zero shift mean px | descriptor | mean px | median px | PCK@3 | not aligned "
             "| s/scene |", "|---|---|---|---|---|---|---|---|---|---|"]
    for warp in WARPS:
        rows = {}
        for model in args.models.split(","):
            path = RESULTS / f"heldout_{warp}_{model}.json"
            if not path.exists():
                continue
            for row in json.loads(path.read_text()):
                name = "CFOG" if row["method"] == "structural" else model if row["method"] == "learned" else None
                if name:
                    rows[(row["source"], name)] = row
        order = sorted({s for s, _ in rows}, key=lambda s: (s == "all", s))
        for source in order:
            for name in ["CFOG"] + args.models.split(","):
                row = rows.get((source, name))
                if row is None:
                    continue
                lines.append(f"| {warp} | {source} | {row['scenes']} | {row['zero_shift_mean']:.1f} | {name} | "
                             f"{row['headline_mean']:.2f} | {row['headline_median']:.2f} | {row['headline_pck3']:.1%} | "
                             f"{row['not_aligned']} | {row['seconds_per_scene']:.2f} |")
    publish(RESULTS / "learned.md", lines)


if __name__ == "__main__":
    main()
