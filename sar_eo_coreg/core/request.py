"""The one request of a coregistration: what the CLI parses, what the dock and Processing build, and how it
crosses the process boundary (`to_argv`, the worker's command line). Light imports only: the QGIS process
uses it too."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import List, Optional, Tuple

from .choices import RESAMPLINGS, Matcher, Transform
from .errors import CoregError

MAX_POINTS_RANGE = (1, 100_000)


@dataclass
class CoregParams:
    """The request of a coregistration (metres and pixels as named); `to_argv`/`from_args` cross the worker boundary."""
    matcher: str = Matcher.STRUCTURAL.value
    model: Optional[str] = None  # learned: weights name or .pt path (default: the shipped default model)
    transform: str = Transform.AUTO.value  # auto: the dense field; else a model fitted to the tie points
    device: str = "auto"
    seed: int = 0
    search_radius_m: Optional[float] = None  # None: 15 % of the overlap
    resampling: str = "bilinear"
    working_gsd_m: Optional[float] = None  # None: the coarser of the two pixel sizes
    eo_bands: Optional[Tuple[int, ...]] = None
    sar_scale: str = "auto"
    max_points: int = 1500
    tiepoints_only: bool = False  # skip offsets.tif and aligned_sar.tif (detect_tiepoints)
    eo_crs: Optional[str] = None  # replaces the file's CRS (the CRS set on the layer in QGIS)
    sar_crs: Optional[str] = None

    def validate(self) -> None:
        """Refuse an impossible request in one line (CoregError) before any work."""
        Matcher.parse(self.matcher)
        Transform.parse(self.transform)
        if self.resampling not in RESAMPLINGS:
            raise CoregError(f"Unknown resampling '{self.resampling}'. Choose one of: {', '.join(RESAMPLINGS)}.")
        for name in ("search_radius_m", "working_gsd_m"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise CoregError(f"{name} must be a finite number > 0 (metres), or left out for automatic; got {value}.")
        if not MAX_POINTS_RANGE[0] <= self.max_points <= MAX_POINTS_RANGE[1]:
            raise CoregError(f"max_points must be from {MAX_POINTS_RANGE[0]} to {MAX_POINTS_RANGE[1]}, "
                             f"got {self.max_points}.")
        if not 0 <= self.seed < 2**32:
            raise CoregError(f"seed must be from 0 to 4294967295, got {self.seed}.")

    @property
    def uses_model(self) -> bool:
        """Whether the matcher needs a descriptor model."""
        return Matcher.parse(self.matcher).needs_model

    @classmethod
    def from_args(cls, args) -> CoregParams:
        """The request a parsed `coregister` command line (argparse namespace) makes: `to_argv` read back."""
        bands = None
        if args.eo_bands:
            try:
                bands = tuple(int(b) for b in args.eo_bands.split(","))
            except ValueError:
                raise CoregError(f"--eo-bands must be comma-separated band numbers, got '{args.eo_bands}'.") from None
        return cls(matcher=args.matcher, model=args.model, transform=args.transform, device=args.device,
                   seed=args.seed, search_radius_m=args.search_radius_m, resampling=args.resampling,
                   working_gsd_m=args.working_gsd_m, eo_bands=bands, sar_scale=args.sar_scale,
                   max_points=args.max_points, tiepoints_only=args.tiepoints_only, eo_crs=args.eo_crs,
                   sar_crs=args.sar_crs)

    def to_argv(self) -> List[str]:
        """The `coregister` options for this request (inputs and --out are the caller's): what the dock and
        Processing pass to the worker, and what the CLI parses back into an equal request."""
        self.validate()
        argv = ["--matcher", self.matcher, "--transform", self.transform, "--device", self.device,
                "--seed", str(self.seed), "--resampling", self.resampling, "--sar-scale", self.sar_scale,
                "--max-points", str(self.max_points)]
        if self.uses_model and self.model:
            argv += ["--model", self.model]
        for flag, value in (("--search-radius-m", self.search_radius_m), ("--working-gsd-m", self.working_gsd_m),
                            ("--eo-crs", self.eo_crs), ("--sar-crs", self.sar_crs)):
            if value is not None:
                argv += [flag, str(value)]
        if self.eo_bands:
            argv += ["--eo-bands", ",".join(str(b) for b in self.eo_bands)]
        if self.tiepoints_only:
            argv.append("--tiepoints-only")
        return argv


@dataclass
class ApplyParams:
    """The request of an `apply`: re-fit edited tie points with this transform and resample the SAR."""

    transform: str = Transform.AUTO.value
    resampling: str = "bilinear"
    eo_crs: Optional[str] = None  # replaces the file's CRS (the CRS set on the layer in QGIS)
    sar_crs: Optional[str] = None

    def validate(self) -> None:
        """Refuse an unknown transform or resampling in one line (CoregError)."""
        Transform.parse(self.transform)
        if self.resampling not in RESAMPLINGS:
            raise CoregError(f"Unknown resampling '{self.resampling}'. Choose one of: {', '.join(RESAMPLINGS)}.")

    @classmethod
    def from_args(cls, args) -> ApplyParams:
        """The request a parsed `apply` command line makes: `to_argv` read back."""
        return cls(transform=args.transform, resampling=args.resampling, eo_crs=args.eo_crs, sar_crs=args.sar_crs)

    def to_argv(self) -> List[str]:
        """The `apply` options for this request (the tie-point file, inputs and --out are the caller's)."""
        self.validate()
        argv = ["--transform", self.transform, "--resampling", self.resampling]
        for flag, value in (("--eo-crs", self.eo_crs), ("--sar-crs", self.sar_crs)):
            if value is not None:
                argv += [flag, str(value)]
        return argv


# The command line's options by the names the dock and Processing give the same fields
FIELD_NAMES = {"--search-radius-m": "Search radius", "--working-gsd-m": "working resolution",
               "--max-points": "Tie points (at most)", "--eo-bands": "EO band", "--sar-scale": "SAR scale",
               "--model": "Model", "--matcher": "Matcher", "--device": "Device", "--transform": "Transform",
               "--resampling": "Resampling", "--eo": "EO layer", "--sar": "SAR layer", "--out": "Output folder"}


def in_field_words(message: str, quote: str = "") -> str:
    """An engine message (which names command-line options) in the words of the dock and Processing."""
    return re.sub(r"--[a-z][a-z-]*", lambda m: f"{quote}{FIELD_NAMES[m.group(0)]}{quote}"
                  if m.group(0) in FIELD_NAMES else m.group(0), message or "")
