"""How many threads the engine uses: every core, unless SAR_EO_COREG_THREADS says fewer (a batch worker that
shares its machine with others sets it, so the workers' threads do not oversubscribe the cores)."""

from __future__ import annotations

import os

THREADS_ENV = "SAR_EO_COREG_THREADS"


def engine_threads() -> int:
    """Threads for the engine's parallel work (>= 1)."""
    value = os.environ.get(THREADS_ENV, "")
    if value.strip().isdigit() and int(value) >= 1:
        return int(value)
    return max(1, os.cpu_count() or 1)
