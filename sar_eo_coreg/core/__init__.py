"""The coregistration engine. Pure Python: it never imports qgis."""
