"""Speed benchmark: large scenes built from the real Sentinel-1/2 pairs.

Builds 8192² and 16384² mosaics of the s1s2_volkov pairs (EO RGB, SAR VH), displaces the SAR by a
known field and writes it with a pixel 1.25x the EO's, then runs the CLI end to end and measures
seconds, seconds per megapixel, peak RSS, accuracy at truth points, and the I/O floor (reading both
inputs and writing outputs of the same size, no matching). Results: bench/results/speed.{json,md}.

    python bench/speed.py [--sizes 8192,16384] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from accuracy import remeasured_truth  # noqa: E402
from measured import run_measured  # noqa: E402
from pair_check import reliable_windows  # noqa: E402
from pairs import aligned_pairs, data_path  # noqa: E402

from sar_eo_coreg.evaluation import metrics, synthetic  # noqa: E402

TILE = 1024
SAR_PIXEL_SCALE = 1.25


def build_mosaic(size: int, work: Path):
    """EO and aligned SAR mosaics of size² from the volkov pairs (tiles reused cyclically)."""
    eo_path, sar_path = work / f"mosaic{size}_eo.tif", work / f"mosaic{size}_sar_aligned.tif"
    if eo_path.exists() and sar_path.exists():
        return eo_path, sar_path
    pairs = [r for r in aligned_pairs(extra=None) if r["source"] == "s1s2_volkov"]
    transform = Affine(10, 0, 300000, 0, -10, 4000000)
    common = {"driver": "GTiff", "width": size, "height": size, "crs": "EPSG:32611", "transform": transform,
              "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "dtype": "uint8"}
    with rasterio.open(eo_path, "w", count=3, **common) as eo, rasterio.open(sar_path, "w", count=1, **common) as sar:
        for k, (row, col) in enumerate((r, c) for r in range(0, size, TILE) for c in range(0, size, TILE)):
            pair = pairs[k % len(pairs)]
            window = Window(col, row, TILE, TILE)
            with rasterio.open(data_path(pair["eo"])) as src:
                eo.write(src.read(), window=window)
            with rasterio.open(data_path(pair["sar"])) as src:
                sar.write(src.read(1)[None], window=window)
    return eo_path, sar_path


def remeasured_mosaic(size: int, field):
    """The mosaic's truth composed with each tile's own offsets (its pair is not pixel-aligned; bench/pair_check.py
    re-measured them at reliable windows): (points, truth) in EO pixels, as bench/accuracy.py scores s1s2_volkov;
    only where the displaced SAR shows that ground (as synthetic.truth_points keeps)."""
    pairs = [r for r in aligned_pairs(extra=None) if r["source"] == "s1s2_volkov"]
    checks = reliable_windows(REPO / "bench" / "results" / "pair_check.json")
    windows = []
    for k, (row, col) in enumerate((r, c) for r in range(0, size, TILE) for c in range(0, size, TILE)):
        tile = checks.get(("s1s2_volkov", pairs[k % len(pairs)]["id"]), np.zeros((0, 6))).copy()
        tile[:, :2] += [col, row]
        windows.append(tile)
    points, truth = remeasured_truth(field, np.concatenate(windows))
    sar_side = int(np.ceil(size / SAR_PIXEL_SCALE))
    q = (points + truth + 0.5) / SAR_PIXEL_SCALE - 0.5
    src = points + truth + field.sampling(*(points + truth).T)
    inside = ((q >= 1) & (q <= sar_side - 2)).all(axis=1) & ((src >= 0) & (src <= size - 1)).all(axis=1)
    return points[inside], truth[inside]


def io_floor(eo_path, sar_path, out: Path) -> float:
    """Read both inputs block by block and write outputs of the contract's size and layout."""
    start = time.perf_counter()
    with rasterio.open(eo_path) as eo, rasterio.open(sar_path) as sar:
        for _, window in sar.block_windows(1):
            sar.read(1, window=window)
        profile = {"driver": "GTiff", "width": eo.width, "height": eo.height, "crs": eo.crs, "transform": eo.transform,
                   "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "zlevel": 1}
        with rasterio.open(out / "floor_offsets.tif", "w", count=2, dtype="float32", predictor=3, **profile) as off, \
                rasterio.open(out / "floor_aligned.tif", "w", count=1, dtype="uint8", predictor=2, **profile) as al:
            for _, window in eo.block_windows(1):
                block = eo.read(window=window)
                off.write(np.zeros((2, *block.shape[1:]), np.float32), window=window)
                al.write(block[:1], window=window)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="8192,16384")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--work", default=str(REPO / "bench" / "work"))
    args = parser.parse_args(argv)
    out, work = Path(args.out), Path(args.work)
    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in map(int, args.sizes.split(",")):
        eo_path, aligned_sar = build_mosaic(size, work)
        field = synthetic.DisplacementField.random(size, size, seed=size)
        sar_path = work / f"mosaic{size}_sar.tif"
        if not sar_path.exists():
            synthetic.write_pair(eo_path, aligned_sar, work / f"mosaic{size}_eo_copy.tif", sar_path, field,
                                 sar_pixel_scale=SAR_PIXEL_SCALE)
        floor = io_floor(eo_path, sar_path, work)
        run_dir = work / f"run{size}_{args.device}"
        cmd = [sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", str(eo_path), "--sar", str(sar_path),
               "--out", str(run_dir), "--device", args.device, "--progress", "none"]
        seconds, peak_mb, code, stderr = run_measured(cmd, REPO)
        if code != 0:
            print(stderr)
            raise SystemExit(f"run failed for {size}")
        sar_w = int(np.ceil(size / SAR_PIXEL_SCALE))
        points, truth = synthetic.truth_points(field, size, size, sar_w, sar_w, SAR_PIXEL_SCALE, step=size // 64)
        accuracy = metrics.score(metrics.sample_offsets(run_dir / "offsets.tif", points), truth)
        re_points, re_truth = remeasured_mosaic(size, field)
        remeasured = metrics.score(metrics.sample_offsets(run_dir / "offsets.tif", re_points), re_truth)
        report = json.loads((run_dir / "report.json").read_text())
        row = {"size": size, "device": args.device, "seconds": seconds, "s_per_mp": seconds / (size * size / 1e6),
               "peak_rss_mb": peak_mb, "io_floor_s": floor, "stages_s": report["timings_s"],
               "mean_px": accuracy["mean"], "median_px": accuracy["median"], "pck3": accuracy["pck3"],
               "remeasured_points": len(re_points), "remeasured_mean_px": remeasured["mean"],
               "remeasured_median_px": remeasured["median"], "remeasured_pck3": remeasured["pck3"],
               "verdict": report["verdict"], "working_grid": report["working_grid"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
    (out / f"speed_{args.device}.json").write_text(json.dumps(rows, indent=2))
    lines = ["| scene | device | seconds | s/MP | peak RSS MB | I/O floor s | read / match / fit / write s "
             "| stated truth: mean / median px | re-measured truth: mean / median px, PCK@3 | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["stages_s"]
        lines.append(f"| {r['size']}² | {r['device']} | {r['seconds']:.1f} | {r['s_per_mp']:.3f} | {r['peak_rss_mb']:.0f} | "
                     f"{r['io_floor_s']:.1f} | {t['read_s']:.1f} / {t['match_s']:.1f} / {t['fit_s']:.1f} / {t['write_s']:.1f} | "
                     f"{r['mean_px']:.2f} / {r['median_px']:.2f} | {r['remeasured_mean_px']:.2f} / "
                     f"{r['remeasured_median_px']:.2f}, {r['remeasured_pck3']:.1%} | {r['verdict']} |")
    (out / f"speed_{args.device}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
