"""SAR-EO coregistration: a QGIS plugin with a QGIS-free engine.

Importing this package is cheap: it needs neither QGIS, torch nor rasterio.
"""

from .core.version import __version__

__all__ = ["__version__", "classFactory"]


def classFactory(iface):  # noqa: N802 (QGIS's name)
    """QGIS entry point."""
    from .plugin import SarEoCoregPlugin

    return SarEoCoregPlugin(iface)
