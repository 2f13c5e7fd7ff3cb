"""Accuracy benchmark on every aligned pair in ../shared/data (and the airport-derived pair).

For each pair: write eo.tif and a displaced sar.tif (known field: a global shift up to ±10% of the size plus a
local warp, seeded by the pair's index: `--warp random` (control grid, 1.5 %), `strong` (3.5 %, nodes every
1/4-1/2 of the size), `relief` (along one axis, proportional to a random height, 4 %) or `sine`; see
sar_eo_coreg/evaluation/synthetic.py), run every method, and score offsets at truth points, against the stated
truth and, where bench/pair_check.py has re-measured the unwarped pair, against that re-measured truth too. The
headline table uses the re-measured truth for REMEASURED_SOURCES (s1s2_volkov) and the stated one elsewhere, with
the calibrated confidence at the same points. Methods: zero shift, OpenCV SIFT + RANSAC affine, and the engine
(the full pipeline) with `structural` (CFOG) or `learned` descriptors. A run that errors out is counted in its
own column and scored as zero shift; a run whose verdict is not_aligned returns zero shift by design and is
counted too. Results: bench/results/<name>.{json,md}. Per-scene results are kept in <name>_scenes.jsonl (with the
engine's evidence score at each point, for bench/calibrate.py) and reused only when the engine's code (and, for
`learned`, the weights) and the scene are the same: a changed engine, pair or re-measurement re-runs.

    python bench/accuracy.py [--warp random|strong|relief|sine] [--sources s1s2_volkov,mmim_so] [--limit N]
    python bench/accuracy.py --warp strong --seed 7000 --work /tmp/other_seeds --name strong_seed7000
    python bench/accuracy.py --methods learned --heldout-fold 0 --name accuracy_fold0

Learned descriptors are scored on the pairs of a held-out fold only (--heldout-fold K, the same grouped
split as `python -m sar_eo_coreg train --fold K`), so no scene they were trained on is counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pair_check import reliable_windows  # noqa: E402
from pairs import EXTRA, aligned_pairs, data_path  # noqa: E402

from sar_eo_coreg.core import pipeline  # noqa: E402
from sar_eo_coreg.core.align import confidence as calibration  # noqa: E402
from sar_eo_coreg.core.errors import CoregError  # noqa: E402
from sar_eo_coreg.core.raster import eo_grid, eo_radiometry, open_info, read_display_image, sar_radiometry  # noqa: E402
from sar_eo_coreg.evaluation import metrics, synthetic  # noqa: E402
from sar_eo_coreg.models.descriptor import descriptor_for, find_model  # noqa: E402

REMEASURED_SOURCES = {"s1s2_volkov"}  # pairs that are not pixel-aligned: headline figures use the re-measured truth
FAILURE_MEDIAN_PX = 5.0  # a scene whose median error exceeds this (or that errors out) counts as failed
SCORING = 3  # what a cached scene result holds; raise it when that changes, and every scene re-runs


def engine_version(method: str, model) -> str:
    """What a cached scene result of `method` depends on: the package's source (the SIFT baseline reads the
    images through it too) and, for `learned`, the model's files; hashed."""
    if method == "zero":
        return method
    digest = hashlib.sha1()
    files = sorted((REPO / "sar_eo_coreg").rglob("*.py"))
    if method == "learned":  # the model card and its ONNX files
        card = find_model(model)
        files += [card] + sorted(card.parent.glob(json.loads(card.read_text())["files"]["eo"]["file"][:-8] + ".*.onnx"))
    for path in files:
        digest.update(str(path.relative_to(REPO) if path.is_relative_to(REPO) else path).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_scene(row, index, work: Path, warp: str, seed: int = 1000):
    scene = work / warp / f"{row['source']}_{row['id']}"
    scene.mkdir(parents=True, exist_ok=True)
    width, height = int(row["width"]), int(row["height"])
    field = synthetic.FIELDS[warp].random(width, height, seed=seed + index)
    gsd = float(row["gsd_m"]) if row["gsd_m"] not in ("", "nan") else 1.0
    inputs = [data_path(row["eo"]), data_path(row["sar"])]
    made = scene / "sar.tif"
    if not made.exists() or made.stat().st_mtime < max(path.stat().st_mtime for path in inputs):  # new or stale
        synthetic.write_pair(*inputs, scene / "eo.tif", made, field, gsd_m=gsd)
    points, truth = synthetic.truth_points(field, width, height, width, height)
    return scene, points, truth, field


def scene_version(scene: Path, windows) -> str:
    """What a cached scene result depends on besides the engine: the scene's files, its re-measured windows and
    what the result holds (SCORING)."""
    digest = hashlib.sha1(f"scoring {SCORING}".encode())
    digest.update(np.ascontiguousarray(windows, np.float64).tobytes())
    for name in ("eo.tif", "sar.tif"):
        stat = (scene / name).stat()
        digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


def remeasured_truth(field, windows):
    """Where bench/pair_check.py found the unwarped pair itself offset (EO p shows in the aligned SAR at p + i),
    the displaced SAR shows p's ground at p + i + D(p + i): the protocol's truth composed with the re-measured
    offsets. windows: reliable rows of pair_check (x, y, dx, dy, ...). Returns (points, truth)."""
    points, intrinsic = windows[:, :2], windows[:, 2:4]
    moved = points + intrinsic
    return points, intrinsic + field.truth(moved[:, 0], moved[:, 1])


def _luminance(path):
    """The engine's own luminance and stretch (raster.read_display_image), on the EO grid."""
    info = open_info(path, "image")
    radiometry = eo_radiometry(info) if info.count >= 3 else sar_radiometry(info)
    return read_display_image(info, radiometry, eo_grid(info), "image")


def sift_offsets(scene, points):
    """OpenCV SIFT + ratio test + RANSAC affine: the classical baseline (zero shift when it cannot fit)."""
    eo, sar = _luminance(scene / "eo.tif"), _luminance(scene / "sar.tif")
    sift = cv2.SIFT_create(nfeatures=4000)
    ke, de = sift.detectAndCompute(eo, None)
    ks, ds = sift.detectAndCompute(sar, None)
    if de is None or ds is None or len(ke) < 3 or len(ks) < 3:
        return np.zeros_like(points), False
    pairs = cv2.BFMatcher().knnMatch(de, ds, k=2)
    good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < 0.8 * n.distance]
    if len(good) < 3:
        return np.zeros_like(points), False
    src = np.float32([ke[m.queryIdx].pt for m in good])
    dst = np.float32([ks[m.trainIdx].pt for m in good])
    affine, _ = cv2.estimateAffine2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if affine is None:
        return np.zeros_like(points), False
    mapped = points @ affine[:, :2].T + affine[:, 2]
    return mapped - points, True


def run_method(method, scene, points, model=None):
    """(predicted offsets, evidence score at the points (the engine's confidence before calibration; None for
    baselines), error message or None, verdict, seconds)."""
    start = time.perf_counter()
    error, verdict, evidence = None, None, None
    if method == "zero":
        predicted = np.zeros_like(points)
    elif method == "sift":
        predicted, ok = sift_offsets(scene, points)
        error = None if ok else "SIFT found no consistent affine"
    else:
        try:
            params = pipeline.CoregParams(matcher=method, model=model if method == "learned" else None)
            result = pipeline.coregister(scene / "eo.tif", scene / "sar.tif", scene / method, params,
                                         descriptors=descriptor_for)
            verdict = result.report.verdict
            predicted = metrics.sample_offsets(scene / method / "offsets.tif", points)
            evidence = calibration.evidence_from(np.nan_to_num(metrics.sample_bands(scene / method / "confidence.tif",
                                                                                    points)[:, 0]))
        except CoregError as exc:
            print(f"    {method}: {exc}", flush=True)
            predicted, error = np.zeros_like(points), str(exc)
    return predicted, evidence, error, verdict, time.perf_counter() - start


def aggregate(records, zero_means):
    """Per source and method: pooled tie-point errors (an errored scene scored as zero shift), errored scenes,
    not-aligned verdicts, failures (errored, or median above FAILURE_MEDIAN_PX), seconds per scene, and the
    zero-shift mean of the same scenes."""
    table = {}
    for rec in records:
        table.setdefault((rec["source"], rec["method"]), []).append(rec)
    rows = []
    for (source, method), recs in sorted(table.items()):
        errors = np.concatenate([np.asarray(r["errors"]) for r in recs])
        rows.append({
            "source": source, "method": method, "scenes": len(recs), "points": int(errors.size),
            "mean": float(errors.mean()), "median": float(np.median(errors)),
            **{f"pck{k}": float((errors <= k).mean()) for k in metrics.PCK_THRESHOLDS},
            "errored": int(sum(1 for r in recs if r.get("error"))),
            "not_aligned": int(sum(1 for r in recs if r.get("verdict") == "not_aligned")),
            "failures": int(sum(1 for r in recs if r.get("error") or r["median"] > FAILURE_MEDIAN_PX)),
            "seconds_per_scene": float(np.mean([r["seconds"] for r in recs])),
            "zero_shift_mean": zero_means.get(source, float("nan")),  # nan when zero shift was not run
            **_remeasured(recs), **_headline(recs),
        })
    return rows


def _headline(recs):
    """The headline figures: the re-measured truth for REMEASURED_SOURCES (their stated truth is off by pixels),
    the stated truth elsewhere; with the calibrated confidence at the same points (share of points at >= 0.9,
    and how many of those are within 3 px)."""
    errors, evidence = [], []
    for r in recs:
        remeasured = r.get("origin", r["source"]) in REMEASURED_SOURCES
        errors.append(np.asarray(r["errors_remeasured" if remeasured else "errors"], float))
        if "evidence" in r:
            evidence.append(np.asarray(r["evidence_remeasured" if remeasured else "evidence"], float))
    errors = np.concatenate(errors)
    out = {"headline_points": int(errors.size), "headline_mean": float(errors.mean()),
           "headline_median": float(np.median(errors)), "headline_pck3": float((errors <= 3).mean())}
    if len(evidence) == len(recs) and recs:
        confident = calibration.probability(np.concatenate(evidence)) >= 0.9
        out["conf90_share"] = float(confident.mean())
        out["conf90_within3"] = float((errors[confident] <= 3).mean()) if confident.any() else float("nan")
    return out


def _remeasured(recs):
    """The same scores against the re-measured truth, at the reliable windows of bench/pair_check.py, and against
    the stated truth at the same windows (so the two truths are compared on the same points)."""
    errors = np.concatenate([np.asarray(r.get("errors_remeasured", []), float) for r in recs])
    if errors.size == 0:
        return {"remeasured_points": 0}
    stated = np.concatenate([np.asarray(r["errors_stated_at_windows"], float) for r in recs])
    return {"remeasured_points": int(errors.size), "remeasured_scenes": sum(bool(r.get("errors_remeasured")) for r in recs),
            "remeasured_mean": float(errors.mean()), "remeasured_median": float(np.median(errors)),
            "remeasured_pck3": float((errors <= 3).mean()), "stated_at_windows_mean": float(stated.mean()),
            "stated_at_windows_median": float(np.median(stated)), "stated_at_windows_pck3": float((stated <= 3).mean())}


def markdown(rows):
    lines = ["Headline (re-measured truth for s1s2_volkov, stated truth elsewhere; confidence as calibrated):", "",
             "| source | method | scenes | zero-shift mean px | mean px | median px | PCK@3 | errored | not aligned | "
             "confidence >= 0.9: share of points / of those within 3 px | s/scene |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        conf = (f"{r['conf90_share']:.1%} / {r['conf90_within3']:.1%}" if "conf90_share" in r else "")
        lines.append(f"| {r['source']} | {r['method']} | {r['scenes']} | {r['zero_shift_mean']:.2f} | "
                     f"{r['headline_mean']:.2f} | {r['headline_median']:.2f} | {r['headline_pck3']:.1%} | {r['errored']} | "
                     f"{r['not_aligned']} | {conf} | {r['seconds_per_scene']:.2f} |")
    lines += ["", "Against the stated truth everywhere:", "",
              "| source | method | scenes | zero-shift mean px | mean px | median px | PCK@1 | PCK@3 | PCK@5 | errored |"
             " not aligned | failures | s/scene |", "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['source']} | {r['method']} | {r['scenes']} | {r['zero_shift_mean']:.2f} | {r['mean']:.2f} | "
                     f"{r['median']:.2f} | {r['pck1']:.1%} | {r['pck3']:.1%} | {r['pck5']:.1%} | {r['errored']} | "
                     f"{r['not_aligned']} | {r['failures']} | {r['seconds_per_scene']:.2f} |")
    lines += ["", "Against the re-measured truth (the protocol's field composed with the unwarped pair's own offsets, "
              "measured by bench/pair_check.py at its reliable windows):", "",
              "| source | method | scenes | windows | mean px | median px | PCK@3 | stated truth, same windows: mean / "
              "median / PCK@3 |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["remeasured_points"]:
            lines.append(f"| {r['source']} | {r['method']} | {r['remeasured_scenes']} | {r['remeasured_points']} | "
                         f"{r['remeasured_mean']:.2f} | {r['remeasured_median']:.2f} | {r['remeasured_pck3']:.1%} | "
                         f"{r['stated_at_windows_mean']:.2f} / {r['stated_at_windows_median']:.2f} / "
                         f"{r['stated_at_windows_pck3']:.1%} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--work", default=str(REPO / "bench" / "work"))
    parser.add_argument("--sources", default="")
    parser.add_argument("--limit", default="0",
                        help="at most N pairs per source (0: all), or per source: s1s2_volkov=3,srif_optsar=0")
    parser.add_argument("--methods", default="zero,sift,structural")
    parser.add_argument("--warp", default="random", choices=sorted(synthetic.FIELDS))
    parser.add_argument("--extra", default=str(EXTRA),
                        help="more aligned pairs (index.csv columns), e.g. the airport pair made by bench/real_airport.py")
    parser.add_argument("--model", default=None, help="weights for the learned descriptors (default: the default model)")
    parser.add_argument("--pair-check", default=str(REPO / "bench" / "results" / "pair_check.json"),
                        help="re-measured offsets of the unwarped pairs (bench/pair_check.py): a second truth")
    parser.add_argument("--heldout-fold", type=int, default=None, help="only the pairs of this test fold")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--name", default=None, help="results file stem (default: accuracy_<warp>)")
    parser.add_argument("--seed", type=int, default=1000,
                        help="first scene's warp seed (pair i gets seed + i); another seed needs another --work")
    args = parser.parse_args(argv)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    name = args.name or f"accuracy_{args.warp}"
    rows = aligned_pairs(args.extra)
    sources = set(filter(None, args.sources.split(",")))
    default_limit = int(args.limit) if args.limit.isdigit() else 0
    limits = {k: int(v) for k, v in (item.split("=") for item in args.limit.split(",") if "=" in item)}
    if args.heldout_fold is not None:
        from types import SimpleNamespace

        from sar_eo_coreg.training.data import assign_folds

        folds = assign_folds([SimpleNamespace(source=r["source"]) for r in rows], args.folds, seed=0)
        heldout = {(r["source"], r["id"]) for r, f in zip(rows, folds) if f == args.heldout_fold}
    else:
        heldout = None
    methods = args.methods.split(",")
    versions = {method: engine_version(method, args.model) for method in methods}
    checks = reliable_windows(Path(args.pair_check))
    cache_path = out / f"{name}_scenes.jsonl"
    cache = {}
    if cache_path.exists():
        for line in cache_path.read_text().splitlines():
            rec = json.loads(line)
            cache[(rec["source"], rec["id"], rec["method"])] = rec
    per_source = {}
    records = []
    for index, row in enumerate(rows):
        if (sources and row["source"] not in sources) or (heldout is not None and (row["source"], row["id"]) not in heldout):
            continue
        per_source[row["source"]] = per_source.get(row["source"], 0) + 1
        if 0 < limits.get(row["source"], default_limit) < per_source[row["source"]]:
            continue
        scene, points, truth, field = build_scene(row, index, work, args.warp, args.seed)
        windows = checks.get((row["source"], row["id"]), np.zeros((0, 6)))
        re_points, re_truth = remeasured_truth(field, windows)
        stamp = scene_version(scene, windows)
        for method in methods:
            key = (row["source"], row["id"], method)
            if (cache.get(key, {}).get("engine"), cache.get(key, {}).get("scene")) != (versions[method], stamp):
                predicted, evidence, error, verdict, seconds = run_method(
                    method, scene, np.vstack([points, re_points]), args.model)
                predicted = np.where(np.isfinite(predicted), predicted, 0.0)
                errors = np.hypot(*(predicted[: len(points)] - truth).T)
                re_errors = np.hypot(*(predicted[len(points):] - re_truth).T)
                stated_at_windows = np.hypot(*(predicted[len(points):] - field.truth(*re_points.T)).T)
                cache[key] = {"source": row["source"], "id": row["id"], "method": method,
                              "engine": versions[method], "scene": stamp, "error": error,
                              "verdict": verdict, "seconds": seconds, "median": float(np.median(errors)),
                              "mean": float(errors.mean()), "errors": np.round(errors, 3).tolist(),
                              "errors_remeasured": np.round(re_errors, 3).tolist(),
                              "errors_stated_at_windows": np.round(stated_at_windows, 3).tolist()}
                if evidence is not None:
                    cache[key]["evidence"] = np.round(evidence[: len(points)], 4).tolist()
                    cache[key]["evidence_remeasured"] = np.round(evidence[len(points):], 4).tolist()
                with open(cache_path, "a") as fh:
                    fh.write(json.dumps(cache[key]) + "\n")
            rec = cache[key]
            records.append(rec)
            status = "ERROR" if rec.get("error") else (rec.get("verdict") or "ok")
            print(f"{row['source']:>15} {row['id']:>8} {method:>10}: mean {rec['mean']:7.2f} median {rec['median']:7.2f}"
                  f" {status} {rec['seconds']:.1f}s", flush=True)
    # appended to as it ran (a stopped run keeps its scenes); now one line, the latest, per scene and method
    cache_path.write_text("".join(json.dumps(rec) + "\n" for rec in cache.values()))
    # all sources pooled, per method; zero-shift means from the same scenes
    pooled = [dict(r, source="all", origin=r["source"]) for r in records]
    zero_errors = {}
    for rec in records + pooled:
        if rec["method"] == "zero":
            zero_errors.setdefault(rec["source"], []).append(rec["errors"])
    zero_means = {source: float(np.concatenate(errors).mean()) for source, errors in zero_errors.items()}
    rows_out = aggregate(records, zero_means) + aggregate(pooled, zero_means)
    (out / f"{name}.json").write_text(json.dumps(rows_out, indent=2))
    (out / f"{name}.md").write_text(markdown(rows_out) + "\n")
    print(markdown(rows_out))


if __name__ == "__main__":
    main()
