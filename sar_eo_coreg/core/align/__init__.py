"""The dense matching engine, one module a job, in the order the pipeline runs them:

1. `global_search`: where the SAR lies over the whole overlap (FFT correlation, verified by region);
2. `coarse_to_fine`: a displacement field refined level by level, each level matched on a lattice
   (`lattice_match`) and fitted by a robust smooth fit (`field_fit`);
3. `self_check`: better than the global model region by region, and than the input overall?
4. `sampling`: tie points for the review loop where confidence is high.
`engine.align` runs them.
"""

from .engine import Alignment, align

__all__ = ["Alignment", "align"]
