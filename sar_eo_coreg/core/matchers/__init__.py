"""Matchers share one interface: `Matcher.match(eo_chips, sar_chips, template_half, radius)`.

A chip pair is centred on one candidate point: the EO chip holds the template (plus a margin for
filters), the SAR chip the search area around the predicted position. A matcher returns, per point,
the sub-pixel shift of the SAR content relative to the prediction, a score in [0, 1] and a validity flag.
"""

from .base import MatchBatch, Matcher, get_matcher

__all__ = ["MatchBatch", "Matcher", "get_matcher"]
