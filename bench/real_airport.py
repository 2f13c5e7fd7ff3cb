"""The real, unaligned GF-3 / WorldView airport pair end to end (no ground truth: inspect by eye).

Writes docs/airport_checkerboard.png (before | after) and prints the run's summary.

    python bench/real_airport.py
"""

import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sar_eo_coreg.core import pipeline  # noqa: E402
from sar_eo_coreg.core.raster import open_info  # noqa: E402
from sar_eo_coreg.evaluation.quicklook import checkerboard, side_by_side  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "real"


def main():
    eo, sar = REAL / "worldview_pan_airport_eo.tif", REAL / "gf3_spotlight_airport_sar.tif"
    work = REPO / "bench" / "work" / "airport"
    start = time.perf_counter()
    result = pipeline.coregister(eo, sar, work, pipeline.CoregParams())
    seconds = time.perf_counter() - start
    info = open_info(eo, "EO")
    checkerboard(info, sar, work / "before.png")
    checkerboard(info, work / "aligned_sar.tif", work / "after.png")
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    side_by_side(work / "before.png", work / "after.png", docs / "airport_checkerboard.png")
    report = result.report
    summary = {k: report[k] for k in ("tiepoints", "inliers", "used", "transform", "residual_rmse_px", "residual_median_px")}
    disp = result.tiepoints.disp[result.tiepoints.used]
    summary.update(seconds=round(seconds, 1), median_shift_px=[round(float(v), 1) for v in (abs(disp).mean(0))])
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
