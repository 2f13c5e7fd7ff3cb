"""The benchmarks' aligned pairs: ../shared/data/aligned/index.csv plus any extra pairs (the airport-derived one)."""

from __future__ import annotations

import csv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
EXTRA = REPO / "bench" / "work" / "extra_pairs.csv"  # written by bench/real_airport.py


def data_path(name) -> Path:
    """A pair's file: absolute, or relative to ../shared/data."""
    path = Path(name)
    return path if path.is_absolute() else SHARED / path


def aligned_pairs(extra=EXTRA) -> list:
    """Rows of index.csv, then those of `extra` when it exists (same columns)."""
    rows = []
    for index in [SHARED / "aligned" / "index.csv"] + ([Path(extra)] if extra and Path(extra).exists() else []):
        with open(index, newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows
