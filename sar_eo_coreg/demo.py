"""`make demo`: coregister the bundled Sentinel-1/2 sample after displacing it by a known field, print
the accuracy against the truth, and write a before/after checkerboard."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .core import pipeline
from .core.errors import CoregError
from .core.outputs import ALIGNED_FILE, OFFSETS_FILE
from .core.raster import open_info
from .evaluation import metrics, synthetic
from .evaluation.quicklook import checkerboard, side_by_side

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data"


def run_demo(out_dir, seed: int = 7) -> int:
    eo_src, sar_src = SAMPLE / "s1s2_eo.tif", SAMPLE / "s1s2_sar.tif"
    if not eo_src.exists():
        raise CoregError(f"The demo sample is not here ({eo_src}); run the demo from a clone of the repository.")
    out = Path(out_dir)
    inputs = out / "inputs"
    try:
        inputs.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CoregError(f"Cannot write the demo to {out} ({exc.strerror or exc}). Choose a writable --out.") from None
    info = open_info(eo_src, "EO")
    field = synthetic.DisplacementField.random(info.width, info.height, seed=seed)
    synthetic.write_pair(eo_src, sar_src, inputs / "eo.tif", inputs / "sar.tif", field)
    points, truth = synthetic.truth_points(field, info.width, info.height, info.width, info.height)
    print(f"Sample: Sentinel-2 RGB / Sentinel-1 VH, {info.width}x{info.height} px at 10 m (Copernicus data).")
    print(f"Known displacement: global shift ({field.shift[0]:+.1f}, {field.shift[1]:+.1f}) px plus a smooth warp "
          f"of up to {0.015 * max(info.width, info.height):.1f} px.")

    start = time.perf_counter()
    result = pipeline.coregister(inputs / "eo.tif", inputs / "sar.tif", out / "result", pipeline.CoregParams(seed=0))
    seconds = time.perf_counter() - start
    ours = metrics.score(metrics.sample_offsets(out / "result" / OFFSETS_FILE, points), truth)
    zero = metrics.score(np.zeros_like(truth), truth)
    report = result.report
    print(f"\nCoregistered in {seconds:.1f} s: verdict {report.verdict} (mean confidence "
          f"{report.confidence_mean:.2f}), {report.used} tie points, transform {report.transform}.")
    print(f"{'':<14}{'mean px':>9}{'median px':>11}{'PCK@1':>8}{'PCK@3':>8}{'PCK@5':>8}")
    for name, s in (("before (zero)", zero), ("after", ours)):
        print(f"{name:<14}{s['mean']:>9.2f}{s['median']:>11.2f}{s['pck1']:>8.1%}{s['pck3']:>8.1%}{s['pck5']:>8.1%}")

    eo = open_info(inputs / "eo.tif", "EO")
    checkerboard(eo, inputs / "sar.tif", out / "before.png")
    checkerboard(eo, out / "result" / ALIGNED_FILE, out / "after.png")
    side_by_side(out / "before.png", out / "after.png", out / "checkerboard.png")
    print(f"\nCheckerboard (EO/SAR tiles), before | after: {(out / 'checkerboard.png').resolve()}")
    print(f"Outputs (offsets.tif, confidence.tif, aligned_sar.tif, tiepoints.gpkg/.csv/.points, report.json): "
          f"{(out / 'result').resolve()}")
    return 0
