"""Memory and time of `apply` on large tie-point files (10^4, 10^5, 10^6 points), per transform.

Points spread over the S1/S2 fixture (512² at 10 m), a shift plus 1 px of noise, written as Georeferencer
.points files; each run is its own process (peak RSS through bench/measured.py). A file above MAX_TIEPOINTS is refused
after a streamed count; the slow leave-one-out transforms fit an even subset (FIT_MAX_POINTS).
Results: bench/results/tiepoint_memory.{json,md}.

    python bench/tiepoint_memory.py [--counts 10000,100000,1000000] [--transforms auto,tps,affine]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from measured import run_measured  # noqa: E402

from sar_eo_coreg.core.raster import open_info  # noqa: E402
from sar_eo_coreg.core.tiepoints import TiePoints, write_points  # noqa: E402

EO, SAR = REPO / "tests" / "data" / "s1s2_eo.tif", REPO / "tests" / "data" / "s1s2_sar.tif"


def points_file(path: Path, count: int) -> Path:
    eo, sar = open_info(EO, "EO"), open_info(SAR, "SAR")
    rng = np.random.default_rng(count)
    eo_px = rng.uniform(20, 490, (count, 2))
    disp = np.array([3.0, -2.0]) + rng.normal(0, 1, (count, 2))
    write_points(path, TiePoints(eo_px, disp, np.ones(count), np.ones(count, bool)), eo, sar)
    return path


def run(points: Path, transform: str, out: Path) -> dict:
    cmd = [sys.executable, "-m", "sar_eo_coreg", "apply", "--tiepoints", str(points), "--eo", str(EO), "--sar",
           str(SAR), "--out", str(out), "--transform", transform]
    seconds, peak_mb, code, stderr = run_measured(cmd, REPO)
    message = stderr.strip().splitlines()
    row = {"seconds": seconds, "peak_rss_mb": peak_mb, "exit": code, "message": message[-1] if message else ""}
    if row["exit"] == 0:
        report = json.loads((out / "report.json").read_text())
        row.update(used=report["used"], fitted=report.get("fitted_points"), rmse=report["residual_rmse_px"],
                   duplicates=report["duplicates"], transform_fitted=report["transform"])
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="10000,100000,1000000")
    parser.add_argument("--transforms", default="auto,tps,affine")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        for count in map(int, args.counts.split(",")):
            path = points_file(work / f"p{count}.points", count)
            for transform in args.transforms.split(","):
                row = {"points": count, "transform": transform, **run(path, transform, work / f"o{count}{transform}")}
                rows.append(row)
                print(json.dumps(row), flush=True)
    out = Path(args.out)
    (out / "tiepoint_memory.json").write_text(json.dumps(rows, indent=2))
    lines = ["| points in the file | transform asked | exit | seconds | peak RSS MB | fitted / used | LOO RMSE px | "
             "message |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        fitted = f"{r.get('fitted') or r.get('used', '')} / {r.get('used', '')} ({r.get('transform_fitted', '')})" \
            if r["exit"] == 0 else ""
        rmse = f"{r['rmse']:.2f}" if r.get("rmse") is not None else ""
        lines.append(f"| {r['points']:,} | {r['transform']} | {r['exit']} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} "
                     f"| {fitted} | {rmse} | {r['message'][:90] if r['exit'] else ''} |")
    (out / "tiepoint_memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
