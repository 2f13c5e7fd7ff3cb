"""Many pairs at once on Dask distributed: a manifest or a glob of pairs (manifest), each coregistered by a Dask
task into its own folder (task), scheduled and followed from one client (run), summarised as batch.csv and
batch.gpkg (summary)."""
