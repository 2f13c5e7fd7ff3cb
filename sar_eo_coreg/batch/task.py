"""One pair of a batch, as a Dask task on a worker: `coregister` into the pair's folder under the same
all-or-nothing contract, with its progress sent to the client as structured worker events and the batch's
cancel checked between stages. Also, on the client, whether a pair's folder already holds its complete result."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

from ..core.errors import CoregCancelledError, CoregError
from ..core.outputs import MANIFEST
from ..core.report import CoregReport
from ..core.version import __version__
from .manifest import Pair

PROGRESS_TOPIC = "sar_eo_coreg-pair-progress"  # a batch's own topic: this with the batch's id
EVENT_EVERY_S = 0.25  # a pair's progress events, at most this often
CANCEL_POLL_S = 0.5  # the batch's cancel flag (on the scheduler), looked at most this often


@dataclass
class PairRow:
    """A pair's line of the batch summary."""

    pair: str
    status: str  # done, skipped (complete result already there), failed, cancelled
    eo: str
    sar: str
    out_dir: str
    verdict: Optional[str] = None  # aligned, aligned_partly, not_aligned
    rmse_px: Optional[float] = None  # leave-one-out RMSE of the tie points, EO pixels
    confidence: Optional[float] = None  # mean confidence, 0-1
    seconds: Optional[float] = None  # the pair's own run time on its worker
    error: str = ""  # the one-line error of a failed pair
    worker_peak_mb: Optional[float] = None  # the worker process's peak resident memory so far, MB


def pair_row(pair: Pair, out_dir: str, status: str, report: Optional[CoregReport] = None, **extra) -> PairRow:
    """A pair's row: its status, the figures of its report (when there is one) and `extra` fields."""
    figures = {} if report is None else {"verdict": report.verdict, "rmse_px": report.residual_rmse_px,
                                         "confidence": report.confidence_mean}
    return PairRow(pair.name, status, pair.eo, pair.sar, out_dir, **figures, **extra)


def completed(pair: Pair, out_dir: str) -> Optional[CoregReport]:
    """The report of the pair's complete result in `out_dir`, when it was made by this version, after the last
    change of its inputs (their sidecars and model included), from inputs with the same fingerprints
    (core.pipeline.file_digest) and with the same request; else None."""
    manifest = Path(out_dir) / MANIFEST
    try:
        if manifest.stat().st_mtime_ns <= _newest_input_ns(pair):  # an input changed after the result was made
            return None
        report = CoregReport.from_dict(json.loads(manifest.read_text()))
        same = (report.command == "coregister" and report.versions.get("sar_eo_coreg") == __version__
                and report.parameters == json.loads(json.dumps(asdict(pair.params)))
                and report.eo_digest == _digest(pair.eo) and report.sar_digest == _digest(pair.sar)
                and all((Path(out_dir) / name).is_file() for name in report.outputs))
    except (OSError, ValueError, TypeError, CoregError):
        return None
    return report if same else None


def _digest(path: str) -> str:
    """core.pipeline.file_digest, read once per file and version of it in this process (one EO against many SARs
    is read once, not once per pair)."""
    stat = os.stat(path)
    return _digest_of(os.path.abspath(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=1024)
def _digest_of(path: str, mtime_ns: int, size: int) -> str:
    from ..core.pipeline import file_digest

    return file_digest(path)


SIDECARS = (".aux.xml", ".ovr", ".msk")  # beside a raster, named after it whole
WORLD_FILES = (".tfw", ".tifw", ".wld", ".prj")  # beside a raster, named after its stem


def _newest_input_ns(pair: Pair) -> int:
    """The latest change (ns) of the pair's inputs, their georeferencing sidecars and a learned model's card."""
    paths = []
    for raster in (pair.eo, pair.sar):
        stem = os.path.splitext(raster)[0]
        paths += [raster, *(raster + s for s in SIDECARS), *(stem + w for w in WORLD_FILES)]
    if pair.params.uses_model:
        from ..models.descriptor import find_model

        paths.append(str(find_model(pair.params.model or "default")))
    return max(os.stat(p).st_mtime_ns for p in paths if os.path.exists(p))


def _peak_mb() -> Optional[float]:
    """This worker process's peak resident memory so far, MB (None where the platform does not say)."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB on Linux


def run_pair(pair: Pair, out_dir: str, cancel_event: Optional[str] = None, topic: str = PROGRESS_TOPIC) -> PairRow:
    """Coregister one pair (on a Dask worker, or in this process when called directly). Never raises for the
    pair's own failure: its row carries the one-line error."""
    import cv2

    from ..core import pipeline
    from ..core.threads import engine_threads
    from ..models.descriptor import descriptor_for

    cv2.setNumThreads(engine_threads())
    worker, cancel = _worker_and_cancel(cancel_event)
    last = {"event": 0.0, "poll": 0.0}

    def progress(fraction: float, message: str) -> None:
        now = time.monotonic()
        if worker is not None and (now - last["event"] >= EVENT_EVERY_S or fraction >= 1.0):
            last["event"] = now
            worker.log_event(topic, {"pair": pair.name, "fraction": round(float(fraction), 4), "message": str(message),
                                              "pid": os.getpid()})

    def cancelled() -> bool:
        now = time.monotonic()
        if cancel is None or now - last["poll"] < CANCEL_POLL_S:
            return False
        last["poll"] = now
        return cancel.is_set()

    progress(0.0, "started")
    start = time.perf_counter()
    try:
        result = pipeline.coregister(pair.eo, pair.sar, out_dir, pair.params, progress=progress, cancelled=cancelled,
                                     descriptors=descriptor_for)
    except CoregCancelledError:
        return pair_row(pair, out_dir, "cancelled", seconds=time.perf_counter() - start, error="Cancelled.",
                    worker_peak_mb=_peak_mb())
    except CoregError as exc:
        return pair_row(pair, out_dir, "failed", seconds=time.perf_counter() - start, error=str(exc),
                    worker_peak_mb=_peak_mb())
    except Exception as exc:  # noqa: BLE001 (a bug in one pair must not stop the batch; its row says what)
        return pair_row(pair, out_dir, "failed", seconds=time.perf_counter() - start,
                    error=f"Internal error ({type(exc).__name__}: {exc}); please report it.", worker_peak_mb=_peak_mb())
    return pair_row(pair, out_dir, "done", result.report, seconds=time.perf_counter() - start, worker_peak_mb=_peak_mb())


def _worker_and_cancel(cancel_event: Optional[str]):
    """The Dask worker running this task and the batch's cancel Event (None, None outside a worker)."""
    try:
        from distributed import Event, get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return None, None
    return worker, (Event(cancel_event) if cancel_event else None)
