"""Data sets, training and evaluation of the learned matchers. Never imports qgis."""
