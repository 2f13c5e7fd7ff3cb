"""The engine's worker subprocess: `python -m sar_eo_coreg ... --progress jsonl`, read line by line.

Pure Python (no qgis import), shared by the dock's task and the Processing algorithms. rasterio, onnxruntime
and numpy 2 stay in the worker, out of the QGIS process; Cancel terminates the worker, which removes
its temporary outputs (SIGTERM unwinds like Ctrl-C), and is killed after a grace period (its staging
folders are then removed here).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Callable, Iterator, List, Optional

from ..batch import CANCEL_WAIT_S
from ..core.outputs import stage_prefix

PLUGIN_PARENT = str(Path(__file__).resolve().parents[2])  # the folder that holds the sar_eo_coreg package
CANCEL_GRACE_S = 1.5
BATCH_CANCEL_GRACE_S = CANCEL_WAIT_S + 30.0  # its running pairs stop, then it writes its summary


class WorkerError(Exception):
    """The worker failed; the message is the engine's one-line error."""


class WorkerCancelledError(Exception):
    """The worker run was cancelled (by the user, or a stop signal)."""
    pass


def worker_env(extra: Optional[dict] = None) -> dict:
    """The worker's environment: this plugin importable, unbuffered output, no QGIS settings leaking in."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (PLUGIN_PARENT, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    for key in ("QT_PLUGIN_PATH", "PYTHONHOME"):  # QGIS's own settings must not leak into the worker
        env.pop(key, None)
    env.update(extra or {})
    return env


def engine_command(python: str, args: List[str]) -> List[str]:
    """The command line that runs the engine's `args` on `python`."""
    return [python, "-m", "sar_eo_coreg", *args]


def engine_run(python: str, args: List[str], output: Optional[str] = None, env: Optional[dict] = None) -> WorkerRun:
    """A worker run of the engine command `args` (a subcommand and its options), with its progress as JSON
    lines: the one way the front ends start the engine. A batch gets longer to stop on Cancel."""
    grace = BATCH_CANCEL_GRACE_S if args[:1] == ["batch"] else CANCEL_GRACE_S
    return WorkerRun(engine_command(python, [*args, "--progress", "jsonl"]), output, env, grace)


class WorkerRun:
    """One worker run of `command` (see engine_command). Iterate `events()` for progress; it returns on
    success (the result payload is then in `result`) and raises WorkerError or WorkerCancelledError."""

    def __init__(self, command: List[str], output: Optional[str] = None, env: Optional[dict] = None,
                 cancel_grace_s: float = CANCEL_GRACE_S):
        self.command = list(command)
        self.cancel_grace_s = cancel_grace_s  # a batch needs longer: its running pairs stop, then its cluster
        self.env = env
        self.output = output  # the output folder (or file): the engine stages its files in it (or beside it)
        self.process: Optional[subprocess.Popen] = None
        self.stderr_lines: List[str] = []
        self.result: Optional[dict] = None
        self._cancelled = False

    def start(self) -> None:
        """Start the worker process and the threads that read its output."""
        python = self.command[0]
        if not python or not (os.path.isfile(python) or shutil.which(python)):
            raise WorkerError(
                f"The worker Python '{python}' was not found. Set it in the plugin settings (Check environment), "
                "or set SAR_EO_COREG_PYTHON."
            )
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
            env=worker_env(self.env), bufsize=1,
        )
        self._lines: queue.Queue[Optional[str]] = queue.Queue()
        self._pumps = [threading.Thread(target=self._pump, args=(self.process.stdout, self._lines.put, True), daemon=True),
                       threading.Thread(target=self._pump, args=(self.process.stderr, self.stderr_lines.append), daemon=True)]
        for pump in self._pumps:
            pump.start()

    @staticmethod
    def _pump(stream, sink, mark_end=False) -> None:
        for line in stream:
            sink(line.rstrip("\n"))
        if mark_end:
            sink(None)

    def events(self, is_cancelled: Callable[[], bool] = lambda: False) -> Iterator[dict]:
        """Yield progress and log events until the worker ends; return normally only on success."""
        if self.process is None:
            self.start()
        try:
            yield from self._read(is_cancelled)
        finally:
            if self.process.poll() is None:
                self.cancel()
            for pump in self._pumps:
                pump.join(1.0)
            for stream in (self.process.stdout, self.process.stderr):
                stream.close()

    def _read(self, is_cancelled):
        while True:
            if is_cancelled() or self._cancelled:
                self.cancel()
                raise WorkerCancelledError()
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line is None:
                break
            event = _parse(line)
            if event.get("type") == "result":
                self.result = event
            elif event.get("type") == "error":
                self.process.wait()
                raise WorkerError(event.get("message", "The worker failed."))
            else:
                yield event
        code = self.process.wait()
        if self._cancelled or code == 130:
            raise WorkerCancelledError()
        if self.result is None:  # a result line is the run's result (a batch with failed pairs exits non-zero)
            tail = next((ln for ln in reversed(self.stderr_lines) if ln.strip()), "no message")
            raise WorkerError(f"The worker stopped unexpectedly (exit code {code}): {tail}")

    def run(self, on_event: Callable[[dict], None] = lambda e: None, is_cancelled: Callable[[], bool] = lambda: False
            ) -> dict:
        """Run to the end, passing each event to `on_event`; the result payload, or WorkerError/WorkerCancelledError."""
        for event in self.events(is_cancelled):
            on_event(event)
        return self.result

    def cancel(self) -> None:
        """Terminate (the engine cleans up), then kill after the grace period and remove what it left."""
        self._cancelled = True
        proc = self.process
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(self.cancel_grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for leftover in self._staging_dirs(proc.pid):
            shutil.rmtree(leftover, ignore_errors=True)

    def _staging_dirs(self, pid: int) -> List[str]:
        """The killed worker's staging folders (named after its process id) in or beside the output."""
        if not self.output:
            return []
        prefix = stage_prefix(pid)
        folders = {self.output, os.path.dirname(os.path.abspath(self.output))}
        return [os.path.join(f, n) for f in folders if os.path.isdir(f) for n in os.listdir(f) if n.startswith(prefix)]


def _parse(line: str) -> dict:
    try:
        event = json.loads(line)
        if isinstance(event, dict):
            return event
    except json.JSONDecodeError:
        pass
    return {"type": "log", "message": line}
