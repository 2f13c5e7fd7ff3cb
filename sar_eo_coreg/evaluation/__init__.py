"""Evaluation helpers: known displacements (synthetic), scoring (metrics) and checkerboards (quicklook).
Used by the demo, the benchmarks and the tests; never by the engine."""
