"""Is the benchmark's truth true? An independent check of every aligned pair, without the engine.

The accuracy benchmark scores the engine against "the pair is aligned pixel to pixel". This script tests
that claim on the unwarped pairs: a grid of large windows (WINDOW px, stepped by STEP), each matched on
its own by ZNCC of CFOG descriptors over +-RADIUS px, with no smoothing, no global model and no shared
state. A window is *reliable* when its peak beats the next local maximum of its surface by RATIO. Per pair:
how many windows are reliable, and the median and 90th percentile of their offsets' length. A pair whose
reliable windows agree on offsets far from zero is not aligned there, whatever its metadata says.

    python bench/pair_check.py [--sources s1s2_volkov] [--limit N]

Results: bench/results/pair_check.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import rasterio
import torch
from scipy.ndimage import maximum_filter

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pairs import EXTRA, aligned_pairs, data_path  # noqa: E402
from publish import publish  # noqa: E402

from sar_eo_coreg.core.align.peaks import parabola_offset  # noqa: E402
from sar_eo_coreg.core.features import CfogDescriptor  # noqa: E402
from sar_eo_coreg.models.torch_ops import zncc  # noqa: E402

WINDOW, STEP, RADIUS = 160, 128, 40
RATIO = 1.3  # peak over the next local maximum of the surface
ALIGNED_P90_PX, MISALIGNED_MEDIAN_PX = 3.0, 3.0
MAX_NODATA = 0.2  # share of a window that may be nodata (0)


def _grey(path):
    """The file's values (RGB: their mean), not the engine's display stretch, to stay apart from the engine."""
    with rasterio.open(path) as src:
        data = src.read()
    return np.round(data.mean(0)).astype(np.uint8) if data.shape[0] >= 3 else data[0]


def reliable(rows):
    """The windows whose peak stands out (RATIO)."""
    return rows[rows[:, 5] >= RATIO]


def reliable_windows(path: Path) -> dict:
    """(source, id) -> reliable windows of a pair_check.json, or {} when it has not been run."""
    if not path.exists():
        return {}
    return {(r["source"], r["id"]): reliable(np.array(r["offsets"], dtype=float).reshape(-1, 6))
            for r in json.loads(path.read_text())}


def window_offsets(eo, sar):
    """(N, 6) rows: x, y (window centre), dx, dy (SAR at p + d matches EO at p), peak, ratio."""
    describe = CfogDescriptor()
    e_desc, s_desc = describe(eo, "eo"), describe(sar, "sar")
    h, w = eo.shape
    rows = []
    for y0 in range(RADIUS, h - WINDOW - RADIUS + 1, STEP):
        for x0 in range(RADIUS, w - WINDOW - RADIUS + 1, STEP):
            if (eo[y0:y0 + WINDOW, x0:x0 + WINDOW] == 0).mean() > MAX_NODATA:
                continue
            t = torch.from_numpy(e_desc[:, y0:y0 + WINDOW, x0:x0 + WINDOW].copy())[None]
            s_img = sar[y0 - RADIUS:y0 + WINDOW + RADIUS, x0 - RADIUS:x0 + WINDOW + RADIUS]
            s = torch.from_numpy(s_desc[:, y0 - RADIUS:y0 + WINDOW + RADIUS, x0 - RADIUS:x0 + WINDOW + RADIUS].copy())[None]
            invalid = torch.from_numpy((s_img == 0).astype(np.float32))[None, None]
            surface = zncc(t, s, invalid, max_invalid=MAX_NODATA)[0].numpy()
            iy, ix = np.unravel_index(np.argmax(surface), surface.shape)
            peak = surface[iy, ix]
            if peak <= 0:
                continue
            local_max = (surface == maximum_filter(surface, size=5)) & (surface > -1)
            local_max[iy, ix] = False
            rival = surface[local_max].max() if local_max.any() else 0.0
            ratio = peak / rival if rival > 0 else np.inf
            dx, dy = float(ix - RADIUS), float(iy - RADIUS)
            if 0 < ix < surface.shape[1] - 1:
                dx += parabola_offset(surface[iy, ix - 1], peak, surface[iy, ix + 1])
            if 0 < iy < surface.shape[0] - 1:
                dy += parabola_offset(surface[iy - 1, ix], peak, surface[iy + 1, ix])
            rows.append((x0 + (WINDOW - 1) / 2, y0 + (WINDOW - 1) / 2, dx, dy, float(peak), float(ratio)))
    return np.array(rows).reshape(-1, 6)


def judge(rows):
    good = reliable(rows)
    if len(good) < 3:
        return {"windows": len(rows), "reliable": len(good), "median_px": None, "p90_px": None,
                "verdict": "unverifiable"}
    length = np.hypot(good[:, 2], good[:, 3])
    median, p90 = float(np.median(length)), float(np.percentile(length, 90))
    verdict = ("aligned" if p90 <= ALIGNED_P90_PX else
               "misaligned" if median > MISALIGNED_MEDIAN_PX else "partly misaligned")
    return {"windows": len(rows), "reliable": len(good), "median_px": median, "p90_px": p90,
            "max_px": float(length.max()), "verdict": verdict}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", default="")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--extra", default=str(EXTRA),
                        help="more aligned pairs, as in bench/accuracy.py")
    args = parser.parse_args(argv)
    sources = set(filter(None, args.sources.split(",")))
    pairs = [r for r in aligned_pairs(args.extra) if not sources or r["source"] in sources]
    results, seen = [], {}
    for row in pairs:
        seen[row["source"]] = seen.get(row["source"], 0) + 1
        if args.limit and seen[row["source"]] > args.limit:
            continue
        rows = window_offsets(_grey(data_path(row["eo"])), _grey(data_path(row["sar"])))
        result = {"source": row["source"], "id": row["id"], **judge(rows),
                  "offsets": [[round(v, 2) for v in r] for r in rows.tolist()]}
        results.append(result)
        print(f"{row['source']} {row['id']}: {result['verdict']} ({result['reliable']}/{result['windows']} reliable, "
              f"median {result['median_px']}, p90 {result['p90_px']})", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pair_check.json").write_text(json.dumps(results, indent=1))
    lines = ["| source | pairs | aligned | partly misaligned | misaligned | unverifiable | median of medians px |",
             "|---|---|---|---|---|---|---|"]
    for source in sorted({r["source"] for r in results}):
        rs = [r for r in results if r["source"] == source]
        count = {v: sum(r["verdict"] == v for r in rs) for v in ("aligned", "partly misaligned", "misaligned",
                                                                   "unverifiable")}
        medians = [r["median_px"] for r in rs if r["median_px"] is not None]
        lines.append(f"| {source} | {len(rs)} | {count['aligned']} | {count['partly misaligned']} | "
                     f"{count['misaligned']} | {count['unverifiable']} | "
                     f"{np.median(medians) if medians else float('nan'):.2f} |")
    publish(out / "pair_check.md", lines)


if __name__ == "__main__":
    main()
