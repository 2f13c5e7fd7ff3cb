"""Batch benchmark: pairs per minute on this machine with 1 and 2 Dask worker processes, the scheduler's overhead
per pair, peak memory per worker, against the same pairs run one `coregister` process after another.

Pairs: the first N real 1024² s1s2_volkov pairs (../shared/data/aligned), each run as it is. Results:
bench/results/batch.{json,md}.

    python bench/batch.py [--pairs 8] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from pairs import aligned_pairs, data_path  # noqa: E402
from publish import publish  # noqa: E402

from sar_eo_coreg.batch.manifest import Pair  # noqa: E402
from sar_eo_coreg.batch.run import run_batch  # noqa: E402
from sar_eo_coreg.core.request import CoregParams  # noqa: E402


def bench_pairs(n: int):
    rows = [r for r in aligned_pairs(extra=None) if r["source"] == "s1s2_volkov"][:n]
    return [Pair(f"volkov_{r['id']}", str(data_path(r["eo"])), str(data_path(r["sar"])), CoregParams()) for r in rows]


def sequential(pairs, work: Path) -> float:
    """The same pairs as separate `coregister` processes, one after another (what a shell loop does)."""
    start = time.perf_counter()
    for pair in pairs:
        subprocess.run([sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", pair.eo, "--sar", pair.sar,
                        "--out", str(work / pair.name), "--progress", "none"], cwd=REPO, check=True,
                       capture_output=True)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--work", default=str(REPO / "bench" / "work" / "batch"))
    args = parser.parse_args(argv)
    pairs = bench_pairs(args.pairs)
    work = Path(args.work)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    seq_s = sequential(pairs, work / "sequential")
    runs = []
    for workers in map(int, args.workers.split(",")):
        result = run_batch(pairs, str(work / f"workers{workers}"), workers=workers, force=True)
        assert result.failed == 0, [r.error for r in result.rows if r.error]
        task_s = sum(r.seconds for r in result.rows)
        run_s = result.wall_s - result.startup_s
        runs.append({
            "workers": workers, "pairs": len(pairs), "wall_s": result.wall_s, "startup_s": result.startup_s,
            "pairs_per_min": 60.0 * len(pairs) / result.wall_s, "pairs_per_min_after_startup": 60.0 * len(pairs) / run_s,
            "task_s_mean": task_s / len(pairs),
            # what the scheduler adds per pair: the run (after start-up) beyond the tasks' own time per worker slot
            "overhead_s_per_pair": (run_s * workers - task_s) / len(pairs),
            "peak_worker_mb": max(r.worker_peak_mb for r in result.rows),
            "verdicts": sorted({r.verdict for r in result.rows}),
        })
    summary = {"pairs": len(pairs), "pair_size": "1024 x 1024 (s1s2_volkov, real)", "sequential_cli_s": seq_s,
               "sequential_pairs_per_min": 60.0 * len(pairs) / seq_s, "runs": runs}
    out = Path(args.out)
    (out / "batch.json").write_text(json.dumps(summary, indent=2))
    lines = [f"Batch of {len(pairs)} real 1024² pairs on this machine ({summary['pair_size']}); one `coregister` "
             f"process per pair, one after another: {seq_s:.1f} s ({summary['sequential_pairs_per_min']:.1f} pairs/min).",
             "", "| workers | wall s | cluster start s | pairs/min | pairs/min after start | s per pair in task | "
             "scheduler overhead s/pair | peak memory per worker MB |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        lines.append(f"| {r['workers']} | {r['wall_s']:.1f} | {r['startup_s']:.1f} | {r['pairs_per_min']:.1f} | "
                     f"{r['pairs_per_min_after_startup']:.1f} | {r['task_s_mean']:.2f} | {r['overhead_s_per_pair']:.2f} | "
                     f"{r['peak_worker_mb']:.0f} |")
    publish(out / "batch.md", lines)


if __name__ == "__main__":
    main()
