"""Torch networks for learned matching (the heatmap U-Net family). Never imports qgis."""
