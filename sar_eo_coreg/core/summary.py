"""What every front end shows of a run: the report's headline fields, typed, and the lines made of them.
The CLI, the dock and Processing read report.json through this one class (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class RunSummary:
    tiepoints: int
    used: int
    transform: str
    residual_rmse_px: Optional[float]
    residual_note: Optional[str]
    verdict: Optional[str]  # aligned, aligned_partly, not_aligned; None for apply (the analyst's points)
    message: Optional[str]
    confidence_mean: Optional[float]

    @classmethod
    def from_report(cls, report: dict) -> RunSummary:
        return cls(int(report["tiepoints"]), int(report["used"]), str(report["transform"]),
                   report.get("residual_rmse_px"), report.get("residual_note"), report.get("verdict"),
                   report.get("message"), report.get("confidence_mean"))

    @property
    def aligned(self) -> bool:
        return self.verdict != "not_aligned"

    def rmse_text(self) -> str:
        """The residual figure: a number, or why there is none (never a 0 that means nothing)."""
        if self.residual_rmse_px is not None:
            return f"leave-one-out RMSE {self.residual_rmse_px:.2f} px"
        return f"leave-one-out RMSE {self.residual_note or 'not computable'}"

    def verdict_line(self) -> Optional[str]:
        """`NOT ALIGNED. why`, or the engine's message with the mean confidence; None without a verdict."""
        if self.verdict is None:
            return None
        if not self.aligned:
            return f"NOT ALIGNED. {self.message}"
        return f"{self.message} Mean confidence {self.confidence_mean:.2f}."

    def points_line(self) -> str:
        return f"{self.used} of {self.tiepoints} tie points used, transform {self.transform}, {self.rmse_text()}"
