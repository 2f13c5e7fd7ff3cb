"""The user-facing choices, one list each for the CLI, the dock and Processing (light imports only)."""

from .transforms import MIN_POINTS, TRANSFORMS

DEVICES = ("auto", "cpu", "cuda")
MATCHERS = ("structural", "learned")  # the dense engine's descriptors: CFOG, or a learned descriptor model
RESAMPLINGS = ("bilinear", "nearest", "cubic")

__all__ = ["DEVICES", "MATCHERS", "MIN_POINTS", "RESAMPLINGS", "TRANSFORMS"]
