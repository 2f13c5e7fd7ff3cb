"""QGIS/Qt user interface: the dock, review table, styling and the task runner."""
