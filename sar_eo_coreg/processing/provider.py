"""The Processing provider `sar_eo_coreg`."""

from pathlib import Path

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import CoregisterAlgorithm, DetectTiepointsAlgorithm, WarpFromTiepointsAlgorithm
from .batch_algorithm import CoregisterManyAlgorithm

PROVIDER_ID = "sar_eo_coreg"


class CoregProvider(QgsProcessingProvider):
    def id(self):
        return PROVIDER_ID

    def name(self):
        return "SAR–EO coregistration"

    def icon(self):
        return QIcon(str(Path(__file__).parent.parent / "icons" / "icon.svg"))

    def loadAlgorithms(self):  # noqa: N802 (QGIS's name)
        for algorithm in (CoregisterAlgorithm(), DetectTiepointsAlgorithm(), WarpFromTiepointsAlgorithm(),
                          CoregisterManyAlgorithm()):
            self.addAlgorithm(algorithm)
