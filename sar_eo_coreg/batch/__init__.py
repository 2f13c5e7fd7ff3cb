"""Many pairs at once on Dask distributed: a manifest or a glob of pairs (manifest), each coregistered by a Dask
task into its own folder (task), scheduled and followed from one client (run), summarised as batch.csv and
batch.gpkg (summary). This file holds only what the QGIS process needs: no imports."""

EXIT_PAIRS_FAILED = 100  # the batch command's exit status with N failed pairs: 100 + N (at most 125)
CANCEL_WAIT_S = 60.0  # after a cancel, how long running pairs get to stop cleanly
SUMMARY_CSV, SUMMARY_GPKG, SUMMARY_JSON = "batch.csv", "batch.gpkg", "batch.json"  # beside the pairs' folders
