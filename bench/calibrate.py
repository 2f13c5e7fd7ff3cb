"""Calibrate the engine's confidence on the accuracy benchmark: confidence.tif = P(offset within 3 EO px).

Reads the per-scene results of bench/accuracy.py (every protocol given), where each truth point carries the
engine's evidence score, and its error (re-measured truth for s1s2_volkov, stated elsewhere). Fits a monotone
map evidence -> P(error <= 3 px) by isotonic regression (pool adjacent violators), and the 68th percentile of
the error as an uncertainty in px. The figures it reports are held out: the pairs are split in two folds by a
hash of their name, each fold scored with the map fitted on the other. The shipped table is then fitted on all.

    python bench/calibrate.py [--warps random,strong,relief,sine]

Writes sar_eo_coreg/core/align/calibration.json, bench/results/calibration.{json,md} and docs/calibration.png.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from accuracy import REMEASURED_SOURCES  # noqa: E402

TABLE = REPO / "sar_eo_coreg" / "core" / "align" / "calibration.json"
BINS = 200  # evidence quantile bins the isotonic fit runs on
KNOTS = 40  # knots kept in the shipped table
THRESHOLDS = (3.0, 1.5, 0.75, 0.375, 0.1875)  # error thresholds fitted, px: 3 EO px at working-grid factors 1-16
EDGES = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0001])  # reliability diagram bins


def load(results: Path, warp: str):
    """(source, id, evidence, error) per scene of the engine (structural) in one protocol."""
    scenes = []
    for line in (results / f"accuracy_{warp}_scenes.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["method"] != "structural" or "evidence" not in rec:
            continue
        remeasured = rec["source"] in REMEASURED_SOURCES
        errors = np.asarray(rec["errors_remeasured" if remeasured else "errors"], float)
        evidence = np.asarray(rec["evidence_remeasured" if remeasured else "evidence"], float)
        scenes.append((rec["source"], rec["id"], evidence, errors))
    return scenes


def fold_of(source: str, pair: str) -> int:
    return int(hashlib.sha1(f"{source}/{pair}".encode()).hexdigest(), 16) % 2


def isotonic(x: np.ndarray, y: np.ndarray, increasing: bool = True):
    """Pool adjacent violators on quantile bins of x: (bin centres, fitted values), monotone in x."""
    order = np.argsort(x)
    x, y = x[order], y[order]
    groups = np.array_split(np.arange(len(x)), min(BINS, len(x)))
    centres = np.array([x[g].mean() for g in groups])
    values = [float(y[g].mean()) if increasing else -float(y[g].mean()) for g in groups]
    weights = [float(len(g)) for g in groups]
    blocks = []  # (value, weight, count of bins)
    for v, w in zip(values, weights):
        blocks.append([v, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    fitted = np.concatenate([[v] * n for v, _, n in blocks])
    return centres, fitted if increasing else -fitted


def fit(evidence: np.ndarray, errors: np.ndarray) -> dict:
    """The table: knots of evidence with P(error <= 3 px) (strictly increasing), P(error <= t) for the finer
    THRESHOLDS (what 3 EO px is in working pixels when the working grid is coarser than the EO), and the error's
    68th percentile (non-increasing) at each."""
    centres, p = isotonic(evidence, (errors <= 3).astype(float))
    finer = {t: isotonic(evidence, (errors <= t).astype(float))[1] for t in THRESHOLDS[1:]}
    order = np.argsort(evidence)
    groups = np.array_split(order, min(BINS, len(order)))
    q68 = np.array([np.percentile(errors[g], 68) for g in groups])
    _, q68 = isotonic(centres, q68, increasing=False)
    keep = np.unique(np.linspace(0, len(centres) - 1, KNOTS).round().astype(int))
    knots = np.r_[0.0, centres[keep], 1.0] + np.linspace(0.0, 1e-6, len(keep) + 2)

    def at_knots(values):
        return np.r_[values[0], values[keep], values[-1]]

    p = np.clip(at_knots(p), 0.0, 0.999) + np.linspace(0.0, 1e-3, len(knots))  # strictly increasing: invertible
    return {"evidence": np.round(knots, 6).tolist(), "p_within_3px": np.round(np.minimum(p, 1.0), 5).tolist(),
            "p_within": {f"{t:g}": np.round(np.clip(at_knots(v), 0.0, 1.0), 5).tolist() for t, v in finer.items()},
            "uncertainty_px": np.round(at_knots(q68), 3).tolist()}


def apply(table: dict, evidence: np.ndarray) -> np.ndarray:
    return np.interp(evidence, table["evidence"], table["p_within_3px"])


def reliability(p: np.ndarray, errors: np.ndarray) -> dict:
    within = errors <= 3
    rows = []
    for lo, hi in zip(EDGES[:-1], EDGES[1:]):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            rows.append({"bin": f"{lo:.1f}-{min(hi, 1.0):.1f}", "points": int(inside.sum()),
                         "predicted": float(p[inside].mean()), "observed": float(within[inside].mean())})
    confident = p >= 0.9
    return {"bins": rows, "points": int(p.size), "share_at_0.9": float(confident.mean()),
            "within3_at_0.9": float(within[confident].mean()) if confident.any() else None}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--warps", default="random,strong,relief,sine")
    parser.add_argument("--results", default=str(REPO / "bench" / "results"))
    parser.add_argument("--plot", default=str(REPO / "docs" / "calibration.png"))
    args = parser.parse_args(argv)
    results = Path(args.results)
    warps = args.warps.split(",")
    data = {warp: load(results, warp) for warp in warps}
    pooled = [s for warp in warps for s in data[warp]]
    folds = {}
    for k in (0, 1):  # each fold's table from the other fold's pairs
        train = [s for s in pooled if fold_of(s[0], s[1]) != k]
        folds[k] = fit(np.concatenate([s[2] for s in train]), np.concatenate([s[3] for s in train]))
    held_out = {}
    for warp in warps + ["all"]:
        scenes = pooled if warp == "all" else data[warp]
        p = np.concatenate([apply(folds[fold_of(s[0], s[1])], s[2]) for s in scenes])
        errors = np.concatenate([s[3] for s in scenes])
        held_out[warp] = {"all sources": reliability(p, errors)}
        for source in sorted({s[0] for s in scenes}):
            mine = [s for s in scenes if s[0] == source]
            held_out[warp][source] = reliability(
                np.concatenate([apply(folds[fold_of(s[0], s[1])], s[2]) for s in mine]),
                np.concatenate([s[3] for s in mine]))
    table = fit(np.concatenate([s[2] for s in pooled]), np.concatenate([s[3] for s in pooled]))
    table = {"fitted": f"bench/calibrate.py on {', '.join(warps)} ({sum(len(s[3]) for s in pooled)} truth points)",
             **table}
    TABLE.write_text(json.dumps(table, indent=1) + "\n")
    (results / "calibration.json").write_text(json.dumps(held_out, indent=1))
    lines = ["Held-out calibration (each pair scored with the table fitted on the other fold's pairs):", "",
             "| protocol | source | points | confidence >= 0.9: share | of those within 3 px |", "|---|---|---|---|---|"]
    for warp, by_source in held_out.items():
        for source, rel in by_source.items():
            share = f"{rel['share_at_0.9']:.1%}"
            within = "-" if rel["within3_at_0.9"] is None else f"{rel['within3_at_0.9']:.1%}"
            lines.append(f"| {warp} | {source} | {rel['points']} | {share} | {within} |")
    lines += ["", "Reliability (all sources; predicted vs observed share within 3 px):", "",
              "| protocol | bin | points | predicted | observed |", "|---|---|---|---|---|"]
    for warp, by_source in held_out.items():
        for row in by_source["all sources"]["bins"]:
            lines.append(f"| {warp} | {row['bin']} | {row['points']} | {row['predicted']:.2f} | {row['observed']:.2f} |")
    (results / "calibration.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(held_out, Path(args.plot))


def _plot(held_out: dict, path: Path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    for warp, by_source in held_out.items():
        bins = by_source["all sources"]["bins"]
        ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], marker="o", label=warp)
    ax.set_xlabel("confidence.tif (predicted P(error <= 3 px))")
    ax.set_ylabel("observed share within 3 px")
    ax.set_title("Confidence calibration, pairs held out")
    ax.legend(loc="upper left")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    main()
