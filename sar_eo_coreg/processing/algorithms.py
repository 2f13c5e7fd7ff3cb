"""Processing algorithms. Parameters are defined here; they call the engine once it is wired in."""

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingException,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorLayer,
)

MATCHERS = ["structural"]
TRANSFORMS = ["grid", "tps", "affine", "poly1", "poly2", "poly3", "projective"]
DEVICES = ["auto", "cpu", "cuda"]
RESAMPLINGS = ["bilinear", "nearest", "cubic"]


class _CoregAlgorithmBase(QgsProcessingAlgorithm):
    NAME = ""
    DISPLAY = ""
    HELP = ""

    def name(self):
        return self.NAME

    def displayName(self):  # noqa: N802 (QGIS's name)
        return self.DISPLAY

    def shortHelpString(self):  # noqa: N802 (QGIS's name)
        return self.HELP

    def createInstance(self):  # noqa: N802 (QGIS's name)
        return type(self)()

    def _add_layers(self):
        self.addParameter(QgsProcessingParameterRasterLayer("EO", "EO (optical) raster"))
        self.addParameter(QgsProcessingParameterRasterLayer("SAR", "SAR raster"))

    def _add_matching(self):
        self.addParameter(QgsProcessingParameterEnum("MATCHER", "Matcher", options=MATCHERS, defaultValue=0))
        self.addParameter(
            QgsProcessingParameterNumber(
                "SEARCH_RADIUS_M", "Search radius (metres, 0 = automatic)",
                type=QgsProcessingParameterNumber.Type.Double, minValue=0.0, defaultValue=0.0,
            )
        )
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(
            QgsProcessingParameterNumber(
                "SEED", "Random seed", type=QgsProcessingParameterNumber.Type.Integer, defaultValue=0
            )
        )

    def _add_fit(self):
        self.addParameter(QgsProcessingParameterEnum("TRANSFORM", "Transform", options=TRANSFORMS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("RESAMPLING", "Resampling", options=RESAMPLINGS, defaultValue=0))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        raise QgsProcessingException(
            f"'{self.DISPLAY}' is not available yet in this version of the plugin; "
            "use the command line: python -m sar_eo_coreg --help"
        )


class CoregisterAlgorithm(_CoregAlgorithmBase):
    NAME = "coregister"
    DISPLAY = "Coregister SAR to EO"
    HELP = (
        "Finds tie points between an EO and a SAR raster, fits a local model, and writes the aligned SAR raster, "
        "the SpaceNet 9 offset map and tie-point layers."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self._add_layers()
        self._add_matching()
        self._add_fit()
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))


class DetectTiepointsAlgorithm(_CoregAlgorithmBase):
    NAME = "detect_tiepoints"
    DISPLAY = "Detect SAR–EO tie points"
    HELP = "Finds and scores tie points between an EO and a SAR raster, without warping."

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self._add_layers()
        self._add_matching()
        self.addParameter(
            QgsProcessingParameterFileDestination("OUTPUT", "Tie points", fileFilter="GeoPackage (*.gpkg)")
        )


class WarpFromTiepointsAlgorithm(_CoregAlgorithmBase):
    NAME = "warp_from_tiepoints"
    DISPLAY = "Warp SAR from tie points"
    HELP = "Re-fits the chosen transform from an edited tie-point layer (enabled points only) and rewrites the outputs."

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(QgsProcessingParameterVectorLayer("TIEPOINTS", "Edited tie-point layer"))
        self._add_layers()
        self._add_fit()
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
