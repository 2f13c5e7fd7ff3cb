"""The QGIS side of the boundary with the engine, shared by the dock (ui/) and Processing (processing/): the
worker client (worker.py, pure Python), where the worker and the weights are (settings.py), the tie-point
layers (tiepoint_layers.py) and EO map-to-pixel conversion (eo_pixels.py). Neither front end imports the other."""
