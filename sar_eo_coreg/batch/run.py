"""Run a batch on Dask distributed: a LocalCluster of worker processes on this machine by default, or an existing
cluster by its scheduler's address. One task per pair; a pair that fails gives its row and the others go on; a
pair whose worker dies is run again elsewhere (Dask's own rescheduling); a pair whose complete result is already
in its folder is skipped; a cancel stops scheduling, lets running pairs stop cleanly and keeps finished ones."""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional

from ..core.errors import CoregError
from ..core.threads import THREADS_ENV
from ..core.version import __version__
from . import CANCEL_WAIT_S, SUMMARY_CSV, SUMMARY_GPKG, SUMMARY_JSON
from .manifest import Pair
from .summary import footprint, write_csv, write_gpkg
from .task import PROGRESS_TOPIC, PairRow, completed, pair_row, run_pair

ALLOWED_FAILURES = 2  # times a pair may take its worker down with it before it is given up (then: a failed row)
POLL_S = 0.1
WORKERS_WAIT_S = 30.0  # a cluster given by address: how long to wait for its first worker


@dataclass
class BatchResult:
    """What a batch did: a row per pair (in the batch's order) and where the time went."""

    out_dir: str
    rows: List[PairRow]
    workers: int
    scheduler: str  # "local" or the cluster's address
    startup_s: float  # starting (or reaching) the cluster
    wall_s: float  # the whole batch, start-up included
    cancelled: bool = False

    @property
    def counts(self) -> Dict[str, int]:
        """Pairs by status (done, skipped, failed, cancelled)."""
        return dict(Counter(row.status for row in self.rows))

    @property
    def failed(self) -> int:
        """How many pairs failed."""
        return self.counts.get("failed", 0)

    def line(self) -> str:
        """The batch in one line: what was done, skipped, failed, cancelled."""
        parts = [f"{self.counts.get(s, 0)} {s}" for s in ("done", "skipped", "failed", "cancelled") if self.counts.get(s)]
        return f"{len(self.rows)} pairs: {', '.join(parts) or 'none run'} ({self.wall_s:.1f} s)"


STOP = threading.Event()  # a stop signal came (request_stop): the batch cancels in order at its next look


def request_stop(signum=None, frame=None) -> None:
    """The handler of a stop signal (Ctrl-C, the plugin's Cancel, a closed terminal): the running batch cancels
    in order at its next look, within POLL_S; a second signal stops the waiting for running pairs."""
    if STOP.is_set():
        raise KeyboardInterrupt
    STOP.set()


def default_workers() -> int:
    """Worker processes on this machine: one per two cores (the engine threads within a pair), at least 1."""
    return max(1, (os.cpu_count() or 1) // 2)


def _start_client(workers: int, scheduler: Optional[str]):
    """(client, cluster or None, worker count)."""
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise CoregError("Batch runs need dask and distributed, which this Python lacks. Use Set up environment (or "
                         "pip install -r requirements.txt).") from None

    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_ for its workers, which turns off glibc's adaptive mmap threshold:
    # every large array of the engine then costs fresh pages (17 % slower per pair here); the local cluster's go
    dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                     "distributed.scheduler.worker-saturation": 1.0,  # no pair queued behind a running one
                     "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
    if scheduler:
        try:
            client = Client(scheduler, timeout="15s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise CoregError(f"Cannot reach the Dask scheduler at {scheduler} ({exc}). Start one (dask scheduler, "
                             "dask worker ADDRESS), or leave out --scheduler for a local cluster.") from None
        try:
            client.wait_for_workers(1, timeout=WORKERS_WAIT_S)
        except (OSError, TimeoutError):
            client.close()
            raise CoregError(f"The Dask cluster at {scheduler} has no workers (waited {WORKERS_WAIT_S:.0f} s). Start "
                             f"some: dask worker {scheduler}") from None
        return client, None, len(client.scheduler_info().get("workers", {}))
    threads = str(max(1, (os.cpu_count() or 1) // workers))
    env = {THREADS_ENV: threads, "OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
    with _workers_ignore_ctrl_c():
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR, env=env)
    return Client(cluster), cluster, workers


@contextmanager
def _workers_ignore_ctrl_c():
    """Worker processes started within inherit SIGINT ignored: a Ctrl-C in the terminal (sent to the whole process
    group) reaches only this client, which cancels the batch in order, instead of killing the pairs mid-write."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _check_out(out_dir: str) -> Path:
    out = Path(os.path.abspath(out_dir))
    if out.exists() and not out.is_dir():
        raise CoregError(f"The batch output {out} is a file. Give a folder (one subfolder per pair is made in it).")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CoregError(f"Cannot create the batch folder {out}: {exc.strerror}. Choose another --out.") from None
    return out


def run_batch(pairs: List[Pair], out_dir: str, workers: Optional[int] = None, scheduler: Optional[str] = None,
              force: bool = False, on_event: Callable[[dict], None] = lambda event: None) -> BatchResult:
    """Coregister every pair into OUT/<name>/ and write OUT/batch.csv, batch.gpkg and batch.json. `on_event`
    gets {"type": "pair", "row", "finished", "total"} as each pair ends (skipped ones first) and
    {"type": "pair_progress", "pair", "fraction", "message", "pid"} while pairs run. `force`: run pairs whose
    complete result is already there again. A KeyboardInterrupt cancels: the result then says so."""
    start = time.perf_counter()
    out = _check_out(out_dir)
    names = [p.name for p in pairs]
    if len(set(n.lower() for n in names)) != len(names):
        raise CoregError("Two pairs of the batch have the same name; give each a different name.")
    rows: Dict[str, PairRow] = {}
    total = len(pairs)
    for pair in pairs:
        report = None if force else completed(pair, str(out / pair.name))
        if report is not None:
            rows[pair.name] = pair_row(pair, str(out / pair.name), "skipped", report,
                                       error="complete result already there (same inputs and options)")
            on_event({"type": "pair", "row": asdict(rows[pair.name]), "finished": len(rows), "total": total})
    todo = [p for p in pairs if p.name not in rows]
    client = cluster = None
    n_workers, startup, cancelled = workers or default_workers(), 0.0, False
    try:
        if todo and STOP.is_set():  # stopped before any pair started
            cancelled = True
        elif todo:
            client, cluster, n_workers = _start_client(n_workers, scheduler)
            startup = time.perf_counter() - start
            cancelled = _run(client, todo, out, rows, total, on_event)
    except KeyboardInterrupt:
        cancelled = True
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        STOP.clear()  # the next batch of this process starts afresh
    ordered = [rows.get(p.name) or pair_row(p, str(out / p.name), "cancelled", error="Not run: the batch was "
                                            "cancelled.") for p in pairs]  # not started before a cancel
    result = BatchResult(str(out), ordered, n_workers, scheduler or "local", startup, time.perf_counter() - start,
                         cancelled)
    _write_summary(result, pairs)
    return result


def _run(client, todo: List[Pair], out: Path, rows: Dict[str, PairRow], total: int, on_event) -> bool:
    """Submit the pairs and collect them as they end; True when cancelled (Ctrl-C)."""
    from distributed import Event

    batch_id = uuid.uuid4().hex
    cancel_name, topic = f"sar_eo_coreg-cancel-{batch_id}", f"{PROGRESS_TOPIC}-{batch_id}"
    events: queue.Queue = queue.Queue()
    client.subscribe_topic(topic, lambda event: events.put(event[1]))
    pending = {client.submit(run_pair, pair, str(out / pair.name), cancel_name, topic, key=f"coregister-{pair.name}-"
                             f"{batch_id[:8]}", pure=False, retries=1): pair for pair in todo}

    def collect():
        while not events.empty():
            on_event({"type": "pair_progress", **events.get()})
        for future in [f for f in pending if f.done()]:
            pair = pending.pop(future)
            rows[pair.name] = _row_of(future, pair, out)
            on_event({"type": "pair", "row": asdict(rows[pair.name]), "finished": len(rows), "total": total})

    try:
        while pending:
            if STOP.is_set():
                raise KeyboardInterrupt
            collect()
            time.sleep(POLL_S)
        return False
    except KeyboardInterrupt:
        Event(cancel_name, client=client).set()
        running = {key for keys in client.processing().values() for key in keys}
        queued = [f for f in pending if f.key not in running]
        client.cancel(queued)
        for future in queued:
            pending.pop(future)
        deadline = time.monotonic() + CANCEL_WAIT_S
        try:
            while pending and time.monotonic() < deadline:
                collect()
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting; a pair cut short leaves only its hidden staging folder
        return True
    finally:
        client.unsubscribe_topic(topic)


def _row_of(future, pair: Pair, out: Path) -> PairRow:
    """The pair's row from its finished task; a task that could not finish (its worker died too often) fails."""
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 (KilledWorker, a lost connection: this pair's row, not the batch)
        text = " ".join(str(exc).split())
        if type(exc).__name__ == "KilledWorker":
            why = "its worker died each time it ran (out of memory?)"
        elif "deserializ" in text:
            why = ("the cluster cannot load this tool; start its scheduler and workers where sar_eo_coreg imports "
                   "(the same environment, PYTHONPATH set to the folder that holds it)")
        else:
            why = f"{type(exc).__name__}: {text}"
        return pair_row(pair, str(out / pair.name), "failed",
                        error=f"The pair could not be run: {why}. Its folder holds no partial result.")


def _write_summary(result: BatchResult, pairs: List[Pair]) -> None:
    out = Path(result.out_dir)
    try:
        write_csv(result.rows, str(out / SUMMARY_CSV))
        write_gpkg(result.rows, str(out / SUMMARY_GPKG), [footprint(p.sar, p.params.sar_crs) for p in pairs])
        (out / SUMMARY_JSON).write_text(json.dumps({
            "sar_eo_coreg": __version__, "scheduler": result.scheduler, "workers": result.workers,
            "startup_s": result.startup_s, "wall_s": result.wall_s, "cancelled": result.cancelled,
            "counts": result.counts, "pairs": [{"name": p.name, "eo": p.eo, "sar": p.sar,
                                                "parameters": asdict(p.params)} for p in pairs]}, indent=2))
    except OSError as exc:
        raise CoregError(f"Cannot write the batch summary into {out}: {exc.strerror or exc}. Free space or choose "
                         "another --out; the pairs' folders are complete.") from None
