"""Progress and cancellation, passed as plain callbacks so any front end can drive the pipeline."""

from __future__ import annotations

from typing import Callable, Optional

from .errors import CoregCancelledError

ProgressFn = Callable[[float, str], None]
CancelFn = Callable[[], bool]


class ProgressTracker:
    """Maps stage-local progress into an overall fraction and checks for cancellation."""

    def __init__(self, progress: Optional[ProgressFn] = None, cancelled: Optional[CancelFn] = None):
        self._progress = progress
        self._cancelled = cancelled
        self._start, self._span = 0.0, 1.0

    def stage(self, start: float, end: float) -> ProgressTracker:
        """Map the next progress fractions 0-1 into [start, end] of the whole run."""
        self._start, self._span = start, end - start
        return self

    def check(self) -> None:
        """Raise CoregCancelledError when the caller has cancelled."""
        if self._cancelled is not None and self._cancelled():
            raise CoregCancelledError("Cancelled by the user.")

    def __call__(self, fraction: float, message: str) -> None:
        self.check()
        if self._progress is not None:
            self._progress(min(1.0, self._start + self._span * fraction), message)
