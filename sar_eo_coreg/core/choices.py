"""The user-facing choices, one list each for the CLI, the dock and Processing (light imports only)."""

from .transforms import MIN_POINTS, TRANSFORMS, transform_label

DEVICES = ("auto", "cpu", "cuda")
MATCHERS = ("structural", "learned")  # the dense engine's descriptors: CFOG, or a learned descriptor model
RESAMPLINGS = ("bilinear", "nearest", "cubic")
TRANSFORM_CHOICES = ("auto", *TRANSFORMS)  # what the CLI (both subcommands), the dock and Processing offer

__all__ = ["DEVICES", "MATCHERS", "MIN_POINTS", "RESAMPLINGS", "TRANSFORMS", "TRANSFORM_CHOICES", "transform_label"]
