"""A QgsTask that runs one worker command in the background, with progress and Cancel."""

from __future__ import annotations

from typing import Callable, List, Optional

from qgis.core import QgsTask
from qgis.PyQt.QtCore import pyqtSignal

from ..bridge.settings import weights_env
from ..bridge.worker import WorkerCancelledError, WorkerError, engine_run


class WorkerTask(QgsTask):
    """Runs `python -m sar_eo_coreg ARGS --progress jsonl`. `on_done(task)` is called on the main thread,
    with `task.payload` (the worker's result) or `task.error` (its one-line message) set."""

    message = pyqtSignal(str)

    def __init__(self, description: str, python: str, args: List[str], on_done: Callable[[WorkerTask], None],
                 output: Optional[str] = None):
        super().__init__(description, QgsTask.CanCancel)
        self.worker = engine_run(python, args, output, weights_env())
        self.on_done = on_done
        self.payload: Optional[dict] = None
        self.error: Optional[str] = None
        self.cancelled_by_user = False

    def run(self) -> bool:  # the task's thread: no project or layer access here
        try:
            for event in self.worker.events(self.isCanceled):
                if event.get("type") == "progress":
                    self.setProgress(100.0 * float(event.get("fraction", 0.0)))
                self.message.emit(str(event.get("message", "")))
            self.payload = self.worker.result
            return True
        except WorkerCancelledError:
            self.cancelled_by_user = True
            self.error = "Cancelled; no outputs were written."
        except WorkerError as exc:
            self.error = str(exc)
        except Exception as exc:  # never let a task die silently
            self.error = f"The run failed: {exc}"
        return False

    def cancel(self) -> None:
        """QGIS ends a cancelled task as Terminated, and its notification of that says "Task failed": the
        description it shows says the run was cancelled."""
        if not self.isCanceled():
            self.setDescription(self.tr("{task} (cancelled)").format(task=self.description()))
        super().cancel()

    def finished(self, ok: bool) -> None:  # the main thread
        if not ok and self.error is None:
            self.cancelled_by_user = True
            self.error = "Cancelled; no outputs were written."
        self.on_done(self)
