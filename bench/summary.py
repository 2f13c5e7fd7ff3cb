"""One table of the engine's headline figures over every protocol, from bench/results/accuracy_<warp>.json.

Headline truth: re-measured for s1s2_volkov (its stated truth is off by pixels), stated elsewhere; the stated
figure stands beside it. Writes bench/results/summary.md.

    python bench/summary.py [--warps random,strong,relief,sine]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warps", default="random,strong,relief,sine")
    parser.add_argument("--results", default=str(REPO / "bench" / "results"))
    args = parser.parse_args(argv)
    results = Path(args.results)
    pooled = ["| protocol | scenes | zero shift mean px | mean px | median px | PCK@3 | errored | not aligned | "
              "stated truth: mean / median / PCK@3 | conf ≥ 0.9: share / within 3 px | SIFT mean px | s/scene |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    sources = ["| protocol | source | scenes | zero shift mean px | mean px | median px | PCK@3 | not aligned | "
               "conf ≥ 0.9: share / within 3 px |", "|---|---|---|---|---|---|---|---|---|"]
    for warp in args.warps.split(","):
        path = results / f"accuracy_{warp}.json"
        if not path.exists():
            continue
        rows = json.loads(path.read_text())
        engine = {r["source"]: r for r in rows if r["method"] == "structural"}
        sift = {r["source"]: r for r in rows if r["method"] == "sift"}
        zero = {r["source"]: r["headline_mean"] for r in rows if r["method"] == "zero"}
        for source, r in engine.items():
            conf = f"{r['conf90_share']:.0%} / {r['conf90_within3']:.0%}" if "conf90_share" in r else "-"
            line = (f"| {r['headline_mean']:.2f} | {r['headline_median']:.2f} | {r['headline_pck3']:.1%} |")
            if source == "all":
                pooled.append(f"| {warp} | {r['scenes']} | {zero.get(source, float('nan')):.1f} {line} {r['errored']} | "
                              f"{r['not_aligned']} | {r['mean']:.2f} / {r['median']:.2f} / {r['pck3']:.1%} | {conf} | "
                              f"{sift['all']['headline_mean']:.0f} | {r['seconds_per_scene']:.2f} |" if "all" in sift else
                              f"| {warp} | {r['scenes']} | {zero.get(source, float('nan')):.1f} {line} {r['errored']} | "
                              f"{r['not_aligned']} | {r['mean']:.2f} / {r['median']:.2f} / {r['pck3']:.1%} | {conf} | - | "
                              f"{r['seconds_per_scene']:.2f} |")
            else:
                sources.append(f"| {warp} | {source} | {r['scenes']} | {zero.get(source, float('nan')):.1f} {line} "
                               f"{r['not_aligned']} | {conf} |")
    text = "\n".join(["All sources pooled (headline truth: re-measured for s1s2_volkov, stated elsewhere):", "",
                      *pooled, "", "Per source:", "", *sources]) + "\n"
    (results / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
