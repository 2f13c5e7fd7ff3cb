"""The real, unaligned GF-3 / WorldView airport pair (~1 m, EPSG:4326) end to end.

1. Runs the engine; writes docs/airport_checkerboard.png (before | after). Scores its offsets at truth points
   no matcher made: grass-island centroids and hand-picked line intersections (bench/airport_truth.py, written
   to bench/results/airport_truth.csv), and against the pair's uniform shift fitted to those points (near
   73 px west and 14 px north, as reported in issue 9; see the README).
2. Makes the pair a 1 m *aligned* pair for the accuracy benchmark: the SAR's georeference corrected by that
   uniform shift, resampled onto the EO grid (bench/work/airport_aligned/), and checks the residual by
   running the engine on the corrected pair. Its row goes to bench/work/extra_pairs.csv, which
   bench/accuracy.py reads.

    python bench/real_airport.py
"""

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import airport_truth  # noqa: E402
from pairs import EXTRA  # noqa: E402

from sar_eo_coreg.core import pipeline  # noqa: E402
from sar_eo_coreg.core.raster import open_info  # noqa: E402
from sar_eo_coreg.core.transforms import ZeroModel  # noqa: E402
from sar_eo_coreg.core.warp import write_aligned_outputs  # noqa: E402
from sar_eo_coreg.evaluation.quicklook import checkerboard, side_by_side  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "real"
EO, SAR = REAL / "worldview_pan_airport_eo.tif", REAL / "gf3_spotlight_airport_sar.tif"
WORK = REPO / "bench" / "work"


def offsets_against_shift(run_dir: Path, shift) -> dict:
    with rasterio.open(run_dir / "offsets.tif") as ds:
        dx, dy = ds.read()
    inside = np.isfinite(dx)
    deviation = np.hypot(dx[inside] - shift[0], dy[inside] - shift[1])
    return {"median_offset_px": [round(float(np.median(dx[inside])), 2), round(float(np.median(dy[inside])), 2)],
            "deviation_px": {"median": round(float(np.median(deviation)), 2),
                             "p95": round(float(np.percentile(deviation, 95)), 2), "max": round(float(deviation.max()), 2),
                             "share_over_20px": round(float((deviation > 20).mean()), 4)}}


def make_aligned_pair(shift) -> dict:
    """The SAR with its georeference corrected by `shift` (EO pixels, SAR minus EO), resampled onto the EO grid."""
    folder = WORK / "airport_aligned"
    folder.mkdir(parents=True, exist_ok=True)
    eo = open_info(EO, "EO")
    corrected = folder / "sar_corrected_georef.tif"
    with rasterio.open(SAR) as src:
        profile = src.profile.copy()
        shift_map = Affine.translation(-shift[0] * eo.transform.a, -shift[1] * eo.transform.e)
        profile.update(transform=shift_map * src.transform, nodata=0)
        with rasterio.open(corrected, "w", **profile) as dst:
            dst.write(src.read())
    sar = open_info(corrected, "SAR")
    write_aligned_outputs(ZeroModel(), eo, sar, folder / "zero_offsets.tif", folder / "sar.tif")
    (folder / "eo.tif").write_bytes(EO.read_bytes())
    check = pipeline.coregister(folder / "eo.tif", folder / "sar.tif", folder / "check", pipeline.CoregParams())
    with rasterio.open(folder / "check" / "offsets.tif") as ds:
        dx, dy = ds.read()
    inside = np.isfinite(dx)
    residual = np.hypot(dx[inside], dy[inside])
    row = {"source": "airport_gf3_wv", "id": "airport", "eo": str(folder / "eo.tif"), "sar": str(folder / "sar.tif"),
           "width": eo.width, "height": eo.height, "gsd_m": "1.0", "georeferenced": "yes",
           "alignment": "uniform shift fitted to the hand truth points",
           "licence": "research use", "note": "bench/real_airport.py"}
    with open(EXTRA, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    return {"verdict": check.report.verdict, "residual_median_px": round(float(np.median(residual)), 2),
            "residual_p95_px": round(float(np.percentile(residual, 95)), 2)}


def main():
    work = WORK / "airport"
    start = time.perf_counter()
    result = pipeline.coregister(EO, SAR, work, pipeline.CoregParams())
    seconds = time.perf_counter() - start
    info = open_info(EO, "EO")
    checkerboard(info, SAR, work / "before.png")
    checkerboard(info, work / "aligned_sar.tif", work / "after.png")
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    side_by_side(work / "before.png", work / "after.png", docs / "airport_checkerboard.png")
    report = result.report.to_dict()
    summary = {k: report[k] for k in ("verdict", "message", "confidence_mean", "tiepoints", "used", "transform",
                                      "residual_rmse_px")}
    truth = airport_truth.truth_points(EO, SAR)
    fit = airport_truth.shift_fit(truth)
    summary.update(seconds=round(seconds, 1), shift_fit=fit, **offsets_against_shift(work, fit["uniform_shift_px"]))
    with open(REPO / "bench" / "results" / "airport_truth.csv", "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["name", "eo_col", "eo_row", "dx", "dy", "uncertainty_px"])
        writer.writerows([name, *(f"{v:.2f}" for v in row)] for name, row in truth.items())
    summary["object_truth"] = airport_truth.score(work / "offsets.tif", truth)
    summary["object_truth"]["quadrants"] = airport_truth.quadrants(truth, info.width, info.height)
    summary["aligned_pair_check"] = make_aligned_pair(fit["uniform_shift_px"])
    print(json.dumps(summary, indent=2))
    (REPO / "bench" / "results" / "real_airport.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
