"""The user-facing choices, one list each for the CLI, the dock and Processing (light imports only)."""

from .matchers.base import MATCHERS
from .transforms import MIN_POINTS, TRANSFORMS

DEVICES = ("auto", "cpu", "cuda")
RESAMPLINGS = ("bilinear", "nearest", "cubic")

__all__ = ["DEVICES", "MATCHERS", "MIN_POINTS", "RESAMPLINGS", "TRANSFORMS"]
