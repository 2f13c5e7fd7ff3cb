"""The matcher interface and registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..errors import CoregError

# Pixels of margin each chip carries beyond the template/search area, for the feature filters.
MARGIN = 8


@dataclass
class MatchBatch:
    shift: np.ndarray  # (N, 2) x, y shift of the SAR match relative to the predicted position, level pixels
    score: np.ndarray  # (N,) confidence in [0, 1]
    valid: np.ndarray  # (N,) bool: a clear peak inside the search area


class Matcher(ABC):
    name = ""

    @abstractmethod
    def match(self, eo_chips: np.ndarray, sar_chips: np.ndarray, template_half: int, radius: int) -> MatchBatch:
        """eo_chips: (N, 2*(template_half+MARGIN), same) uint8; sar_chips: (N, 2*(template_half+radius+MARGIN), same)
        uint8. 0 marks nodata in both."""


MATCHERS = ("structural",)


def get_matcher(name: str, device: str = "auto") -> Matcher:
    if name == "structural":
        from .structural import StructuralMatcher

        return StructuralMatcher(device)
    raise CoregError(f"Unknown matcher '{name}'. Available: {', '.join(MATCHERS)}.")
