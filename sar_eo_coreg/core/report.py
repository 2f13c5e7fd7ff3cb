"""The one report of a run: what report.json holds, what the worker sends back as its result line, and what the
CLI, the dock and Processing show of it. Typed here, written and read only through `to_dict` / `from_dict`
(no heavy imports: the QGIS process reads it too)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Dict, List, Optional

from .errors import CoregError

SCHEMA_VERSION = 1  # of report.json and the worker's result line; a reader refuses a newer one


@dataclass
class CoregReport:
    """What report.json holds: the request, counts, residuals (EO pixels), verdict, timings (s) and versions."""
    command: str  # coregister or apply
    eo: str
    sar: str
    parameters: dict  # the request (coregister: CoregParams; apply: transform, resampling, CRSs)
    tiepoints: int
    inliers: int
    used: int
    transform: str  # the model that wrote the offsets: field, none (not aligned) or a fitted transform
    residual_rmse_px: Optional[float]  # leave-one-out, None when not computable (see residual_note)
    residual_median_px: Optional[float]
    outputs: List[str]  # the files of this run, as committed
    timings_s: Dict[str, float] = field(default_factory=dict)
    versions: Dict[str, str] = field(default_factory=dict)
    residual_note: Optional[str] = None
    # coregister only: the engine's verdict and what it ran with
    verdict: Optional[str] = None  # aligned, aligned_partly, not_aligned
    message: Optional[str] = None
    confidence_mean: Optional[float] = None
    eo_digest: Optional[str] = None
    sar_digest: Optional[str] = None
    working_gsd_m: Optional[float] = None
    working_grid: Optional[List[int]] = None
    search_radius_m: Optional[float] = None
    descriptor: Optional[str] = None
    device: Optional[str] = None
    model_hash: Optional[str] = None
    model_file: Optional[str] = None
    sar_values: Optional[str] = None
    notes: List[str] = field(default_factory=list)  # what the analyst should know about how the inputs were read
    engine: Optional[dict] = None
    schema_version: int = SCHEMA_VERSION
    # apply only
    tiepoints_file: Optional[str] = None
    duplicates: int = 0  # enabled points that repeated another (within DUPLICATE_PX in both images), not counted
    fitted_points: Optional[int] = None  # when the transform was fitted to an evenly spread subset of the used points

    def to_dict(self) -> dict:
        """The report as report.json writes it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> CoregReport:
        """A report read back (report.json, the worker's result line); keys it does not know are ignored, a
        newer schema is refused in one line (a worker Python of another version of this tool)."""
        version = data.get("schema_version", 1)
        if not isinstance(version, int) or version > SCHEMA_VERSION:
            raise CoregError(f"The run's report has schema version {version}; this version of the tool reads up to "
                             f"{SCHEMA_VERSION}. Update the plugin, or use the worker Python set up by this version.")
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    @property
    def aligned(self) -> bool:
        """False only for a `not_aligned` verdict."""
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
        """The tie points and the residual in one line, for the CLI and the front ends."""
        repeated = f" ({self.duplicates} duplicates merged)" if self.duplicates else ""
        if self.fitted_points:
            repeated += f" (fitted to {self.fitted_points}, spread evenly; the others held out)"
        return (f"{self.used} of {self.tiepoints} tie points used{repeated}, transform {self.transform}, "
                f"{self.rmse_text()}")
