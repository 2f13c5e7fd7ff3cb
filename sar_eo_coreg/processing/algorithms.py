"""Processing algorithms: thin wrappers that run the engine's worker command (the same pipeline as the
CLI and the dock). Progress and Cancel go through QgsProcessingFeedback."""

from __future__ import annotations

import os
import shutil
import tempfile

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingLayerPostProcessorInterface,
    QgsProcessingOutputNumber,
    QgsProcessingOutputRasterLayer,
    QgsProcessingOutputString,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
)
from qgis.PyQt import sip

from ..bridge.settings import weights_env, worker_python
from ..bridge.tiepoint_layers import (
    crs_args,
    fallback_layer,
    gpkg_layers,
    source_path,
    style_aligned,
    style_confidence,
    style_fallback,
    style_links,
    style_points,
    sync_layers,
)
from ..bridge.worker import WorkerCancelledError, WorkerError, engine_command, engine_run
from ..core.choices import DEVICES, RESAMPLINGS, Matcher, Transform
from ..core.errors import CoregError
from ..core.outputs import ALIGNED_FILE, CONFIDENCE_FILE, OFFSETS_FILE, STAGE_PREFIX, TIEPOINTS_GPKG
from ..core.report import CoregReport
from ..core.request import MAX_POINTS_RANGE, ApplyParams, CoregParams, in_field_words

# Parameter and output names: what processing.run and qgis_process take and return.
EO, SAR, MATCHER, MODEL, DEVICE, SEED = "EO", "SAR", "MATCHER", "MODEL", "DEVICE", "SEED"
SEARCH_RADIUS_M, MAX_POINTS, EO_BAND = "SEARCH_RADIUS_M", "MAX_POINTS", "EO_BAND"
TRANSFORM, RESAMPLING, OUTPUT_FOLDER, OUTPUT = "TRANSFORM", "RESAMPLING", "OUTPUT_FOLDER", "OUTPUT"
TIEPOINTS, LINKS, OFFSETS, ALIGNED, CONFIDENCE = "TIEPOINTS", "LINKS", "OFFSETS", "ALIGNED", "CONFIDENCE"
VERDICT, RMSE, RMSE_TEXT, COUNT = "VERDICT", "RMSE", "RMSE_TEXT", "COUNT"
FALLBACK = "FALLBACK_REGIONS"

ADVANCED = {MODEL, SEARCH_RADIUS_M, MAX_POINTS, EO_BAND, DEVICE, SEED, RESAMPLING}
HELP = {  # per-parameter help (the tooltips in the algorithm dialog)
    EO: "The optical raster: the reference grid of every output.",
    SAR: "The radar raster to align (amplitude, intensity, dB or complex; read automatically).",
    MATCHER: f"{Matcher.help()}. Default: {Matcher.STRUCTURAL}.",
    MODEL: "For the learned matcher: a model name (NAME.json with its .onnx files, in the plugin's weights folders) "
           "or a .json path.",
    SEARCH_RADIUS_M: "Largest misregistration to look for, in metres. 0: 15 % of the overlap.",
    MAX_POINTS: "Tie points sampled from the finest level, at most (one per cell).",
    EO_BAND: "The EO band to match. 0: the luminance of bands 1-3.",
    DEVICE: "Where learned models run: auto uses a CUDA GPU when the worker has onnxruntime-gpu and one is present; "
            "CFOG runs on the CPU.",
    SEED: "Recorded in the report; the engine is deterministic.",
    TRANSFORM: f"{Transform.AUTO.label}. Others: that model fitted to the tie points.",
    RESAMPLING: "How the SAR is resampled onto the EO grid.",
    OUTPUT_FOLDER: "Gets offsets.tif, confidence.tif, aligned_sar.tif, tie points and report.json; other files in "
                     "it are kept.",
    TIEPOINTS: "The tiepoints or links layer of a GeoPackage written by this plugin, possibly edited.",
}
_POST_PROCESSORS = []  # Processing keeps only a pointer (and deletes it after use): ours must live until then


class _Styled(QgsProcessingLayerPostProcessorInterface):
    """Styles a layer that Processing loads on completion as the dock does, and puts it into the run's group
    (created at the top of the layer tree), visible or not."""

    def __init__(self, style, visible: bool, group: str):
        super().__init__()
        self.style, self.visible, self.group = style, visible, group

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS's name)
        if layer is None or not layer.isValid():
            return
        if self.style is not None:
            self.style(layer)
        root = context.project().layerTreeRoot()
        node = root.findLayer(layer.id())
        if node is None:
            return
        group = root.findGroup(self.group) or root.insertGroup(0, self.group)
        if node.parent() is not group:
            moved = node.clone()
            group.addChildNode(moved)
            node.parent().removeChildNode(node)
            node = moved
        node.setItemVisibilityChecked(self.visible)


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

    def addParameter(self, parameter, createOutput=True):  # noqa: N802, N803 (QGIS's names)
        """Every parameter gets its help text, and the expert ones go to the Advanced group."""
        name = parameter.name()
        if name in HELP:
            parameter.setHelp(HELP[name])
        if name in ADVANCED:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
        return super().addParameter(parameter, createOutput)

    # ---- parameters ----------------------------------------------------------------------------
    def _add_layers(self):
        self.addParameter(QgsProcessingParameterRasterLayer(EO, "EO (optical) raster"))
        self.addParameter(QgsProcessingParameterRasterLayer(SAR, "SAR raster"))

    def _add_matching(self):
        self.addParameter(QgsProcessingParameterEnum(MATCHER, "Matcher", options=list(Matcher.names()), defaultValue=0))
        self.addParameter(QgsProcessingParameterString(
            MODEL, "Model for the learned matcher (model name or .json path; empty = default)", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            SEARCH_RADIUS_M, "Search radius (metres, 0 = automatic)",
            type=QgsProcessingParameterNumber.Type.Double, minValue=0.0, defaultValue=0.0))
        self.addParameter(QgsProcessingParameterNumber(
            MAX_POINTS, "Tie points (at most)", type=QgsProcessingParameterNumber.Type.Integer, minValue=MAX_POINTS_RANGE[0],
            maxValue=MAX_POINTS_RANGE[1], defaultValue=CoregParams.max_points))
        self.addParameter(QgsProcessingParameterNumber(
            EO_BAND, "EO band (0 = luminance of bands 1-3)", type=QgsProcessingParameterNumber.Type.Integer,
            minValue=0, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(DEVICE, "Device", options=list(DEVICES), defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            SEED, "Random seed", type=QgsProcessingParameterNumber.Type.Integer, defaultValue=0))

    def _add_fit(self):
        self.addParameter(QgsProcessingParameterEnum(
            TRANSFORM, "Transform", options=[kind.label for kind in Transform], defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum(RESAMPLING, "Resampling", options=list(RESAMPLINGS),
                                                     defaultValue=0))

    def _add_raster_outputs(self):
        self.addOutput(QgsProcessingOutputRasterLayer(ALIGNED, "Aligned SAR"))
        self.addOutput(QgsProcessingOutputRasterLayer(OFFSETS, "Offset map (SpaceNet 9)"))
        self.addOutput(QgsProcessingOutputVectorLayer(TIEPOINTS, "Tie points"))
        self.addOutput(QgsProcessingOutputVectorLayer(LINKS, "Tie-point links (EO → SAR)"))
        self.addOutput(QgsProcessingOutputNumber(RMSE, "Leave-one-out RMSE (EO pixels; empty when not computable)"))
        self.addOutput(QgsProcessingOutputString(RMSE_TEXT, "Leave-one-out RMSE, or why it is not computable"))

    # ---- reading parameters into worker arguments ----------------------------------------------
    def _raster_layer(self, parameters, name, context):
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise QgsProcessingException(f"Choose a raster for {name}.")
        if not os.path.isfile(source_path(layer)):
            raise QgsProcessingException(f"The {name} layer '{layer.name()}' is not a raster file on disk.")
        return layer

    def _inputs(self, parameters, context):
        """--eo and --sar, with the layers' CRSs when set in QGIS and not their files' own."""
        eo, sar = self._raster_layer(parameters, EO, context), self._raster_layer(parameters, SAR, context)
        return ["--eo", source_path(eo), "--sar", source_path(sar), *crs_args(eo, "eo"), *crs_args(sar, "sar")]

    def _request(self, parameters, context, fit: bool = True) -> CoregParams:
        """The coregistration request from the dialog's values (the one the dock and the CLI build too)."""
        band = self.parameterAsInt(parameters, EO_BAND, context)
        radius = self.parameterAsDouble(parameters, SEARCH_RADIUS_M, context)
        request = CoregParams(
            matcher=Matcher.names()[self.parameterAsEnum(parameters, MATCHER, context)],
            model=self.parameterAsString(parameters, MODEL, context).strip() or None,
            device=DEVICES[self.parameterAsEnum(parameters, DEVICE, context)],
            seed=self.parameterAsInt(parameters, SEED, context),
            max_points=self.parameterAsInt(parameters, MAX_POINTS, context),
            search_radius_m=radius if radius > 0 else None, eo_bands=(band,) if band > 0 else None,
            tiepoints_only=not fit)
        if fit:
            request.transform, request.resampling = self._fit(parameters, context)
        try:
            request.validate()
            return request
        except CoregError as exc:
            raise QgsProcessingException(str(exc)) from None

    def _fit(self, parameters, context):
        """(transform, resampling) chosen in the dialog."""
        return (Transform.names()[self.parameterAsEnum(parameters, TRANSFORM, context)],
                RESAMPLINGS[self.parameterAsEnum(parameters, RESAMPLING, context)])

    def _run_worker(self, args, out_dir, feedback) -> CoregReport:
        python, origin = worker_python()
        feedback.pushCommandInfo(f"{' '.join(engine_command(python, args))}  [Python from {origin}]")
        last = [""]

        def on_event(event):
            if event.get("type") == "progress":
                feedback.setProgress(100.0 * float(event.get("fraction", 0.0)))
            message = str(event.get("message", ""))
            if message and message != last[0]:
                feedback.pushInfo(message)
                last[0] = message

        run = engine_run(python, args, out_dir, weights_env())
        try:
            return CoregReport.from_dict(run.run(on_event, feedback.isCanceled)["report"])
        except WorkerCancelledError:
            raise QgsProcessingException("Cancelled; no outputs were written.") from None
        except (WorkerError, CoregError) as exc:
            raise QgsProcessingException(in_field_words(str(exc), quote="'")) from None

    @staticmethod
    def _load_on_completion(context, path, name, output, group, style=None, visible=True):
        details = QgsProcessingContext.LayerDetails(name, context.project(), output)
        _POST_PROCESSORS[:] = [p for p in _POST_PROCESSORS if not sip.isdeleted(p)]  # used ones are gone
        post = _Styled(style, visible, group)
        _POST_PROCESSORS.append(post)
        details.setPostProcessor(post)
        context.addLayerToLoadOnCompletion(path, details)

    def _raster_outputs(self, context, out_dir, report, aligned_name) -> dict:
        """The outputs shared by the algorithms that write rasters, loaded on completion into one group named
        after the output folder (repeated runs can be told apart) and styled as in the dock: the aligned SAR and
        the tie points visible, the offsets (and the confidence) loaded but hidden."""
        run, group = _run_names(out_dir)
        aligned = os.path.join(out_dir, ALIGNED_FILE)
        gpkg = os.path.join(out_dir, TIEPOINTS_GPKG)
        self._load_on_completion(context, aligned, f"{aligned_name} ({run})", ALIGNED, group, style_aligned)
        self._load_on_completion(context, os.path.join(out_dir, OFFSETS_FILE), f"Offsets ({run})", OFFSETS, group,
                                 visible=False)
        self._load_on_completion(context, f"{gpkg}|layername=links", f"Tie-point links ({run})", LINKS, group,
                                 style_links)
        self._load_on_completion(context, f"{gpkg}|layername=tiepoints", f"Tie points ({run})", TIEPOINTS, group,
                                 style_points)
        return {OUTPUT_FOLDER: out_dir, ALIGNED: aligned, OFFSETS: os.path.join(out_dir, OFFSETS_FILE),
                RMSE: report.residual_rmse_px, RMSE_TEXT: report.rmse_text(),
                TIEPOINTS: f"{gpkg}|layername=tiepoints", LINKS: f"{gpkg}|layername=links"}


def _run_names(out_dir):
    """A run's name (its output folder's) and the layer-tree group its outputs load into."""
    run = os.path.basename(os.path.normpath(out_dir))
    return run, f"Coregistration ({run})"


def _work_folder(beside):
    """A temporary folder next to `beside` (same file system, so results move with os.replace), removed after."""
    folder = os.path.dirname(os.path.abspath(beside))
    os.makedirs(folder, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=f"{STAGE_PREFIX}work-", dir=folder)


class CoregisterAlgorithm(_CoregAlgorithmBase):
    NAME = "coregister"
    DISPLAY = "Coregister SAR to EO"
    HELP = (
        "Finds tie points between an EO and a SAR raster, fits a local model, and writes the aligned SAR raster, "
        "the SpaceNet 9 offset map (offsets.tif) and the tie points (GeoPackage, SpaceNet 9 CSV, Georeferencer "
        ".points) into the output folder, with a report.json."
    )

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self._add_layers()
        self._add_matching()
        self._add_fit()
        self.addParameter(QgsProcessingParameterFolderDestination(OUTPUT_FOLDER, "Output folder"))
        self._add_raster_outputs()
        self.addOutput(QgsProcessingOutputRasterLayer(CONFIDENCE, "Confidence: P(offset within 3 px)"))
        self.addOutput(QgsProcessingOutputString(VERDICT, "Verdict (aligned, aligned_partly, not_aligned)"))
        self.addOutput(QgsProcessingOutputVectorLayer(FALLBACK, "Regions that follow the global model (self-check)"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        out_dir = self.parameterAsString(parameters, OUTPUT_FOLDER, context)
        args = ["coregister", *self._inputs(parameters, context), "--out", out_dir,
                *self._request(parameters, context).to_argv()]
        report = self._run_worker(args, out_dir, feedback)
        (feedback.pushInfo if report.aligned else feedback.reportError)(report.verdict_line())
        feedback.pushInfo(report.points_line())
        for note in report.notes:
            feedback.pushWarning(note)
        confidence = os.path.join(out_dir, CONFIDENCE_FILE)
        run, group = _run_names(out_dir)
        self._load_on_completion(context, confidence, f"Confidence ({run})", CONFIDENCE, group, style_confidence,
                                 visible=False)
        fallback, gpkg = None, os.path.join(out_dir, TIEPOINTS_GPKG)
        if fallback_layer(gpkg) is not None:  # regions that follow the global model
            fallback = f"{gpkg}|layername=fallback_regions"
            self._load_on_completion(context, fallback, f"Follows the global model ({run})", FALLBACK, group,
                                     style_fallback)
        return {**self._raster_outputs(context, out_dir, report, "Aligned SAR"), CONFIDENCE: confidence,
                VERDICT: report.verdict, FALLBACK: fallback}


class DetectTiepointsAlgorithm(_CoregAlgorithmBase):
    NAME = "detect_tiepoints"
    DISPLAY = "Detect SAR–EO tie points"
    HELP = ("Finds and scores tie points between an EO and a SAR raster, without warping. The GeoPackage has a "
            "tiepoints layer (points at the EO position) and a links layer (EO → SAR lines) for review.")

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self._add_layers()
        self._add_matching()
        self.addParameter(
            QgsProcessingParameterFileDestination(OUTPUT, "Tie points", fileFilter="GeoPackage (*.gpkg)")
        )
        self.addOutput(QgsProcessingOutputNumber(COUNT, "Tie points found"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        output = self.parameterAsFileOutput(parameters, OUTPUT, context)
        if not output.lower().endswith(".gpkg"):
            raise QgsProcessingException("The tie-point output must be a GeoPackage (.gpkg) file.")
        with _work_folder(output) as work:
            out_dir = os.path.join(work, "run")
            args = ["coregister", *self._inputs(parameters, context), "--out", out_dir,
                    *self._request(parameters, context, fit=False).to_argv()]
            report = self._run_worker(args, out_dir, feedback)
            os.replace(os.path.join(out_dir, TIEPOINTS_GPKG), output)
        self._load_on_completion(context, f"{output}|layername=tiepoints", "Tie points", OUTPUT,
                                 f"Tie points ({os.path.basename(output)})", style_points)
        return {OUTPUT: output, COUNT: report.tiepoints}


class WarpFromTiepointsAlgorithm(_CoregAlgorithmBase):
    NAME = "warp_from_tiepoints"
    DISPLAY = "Warp SAR from tie points"
    HELP = ("Re-fits the chosen transform from an edited tie-point layer (the tiepoints or links layer of a "
            "GeoPackage written by this plugin; enabled points only; moved link ends count) and rewrites the "
            "outputs. The input file is not modified.")

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(QgsProcessingParameterVectorLayer(TIEPOINTS, "Edited tie-point layer"))
        self._add_layers()
        self._add_fit()
        self.addParameter(QgsProcessingParameterFolderDestination(OUTPUT_FOLDER, "Output folder"))
        self._add_raster_outputs()

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        from ..bridge.eo_pixels import EoPixels

        layer = self.parameterAsVectorLayer(parameters, TIEPOINTS, context)
        if layer is None:
            raise QgsProcessingException("Choose the tie-point layer to warp from.")
        out_dir = self.parameterAsString(parameters, OUTPUT_FOLDER, context)
        inputs = self._inputs(parameters, context)
        with _work_folder(out_dir) as work:
            edited = os.path.join(work, TIEPOINTS_GPKG)
            shutil.copyfile(source_path(layer), edited)
            try:
                points, links = gpkg_layers(edited)
            except ValueError as exc:
                raise QgsProcessingException(str(exc)) from None
            if layer.isEditable() and layer.isModified():
                feedback.pushWarning(f"'{layer.name()}' has unsaved edits; save them to include them.")
            problem = None
            try:
                sync_layers(points, links, EoPixels(inputs[1]))
            except ValueError as exc:
                problem = str(exc)  # only the text: the exception's frames would keep the layers alive
            del points, links
            if problem:
                raise QgsProcessingException(problem)
            transform, resampling = self._fit(parameters, context)
            args = ["apply", "--tiepoints", edited, *inputs, "--out", out_dir,
                    *ApplyParams(transform=transform, resampling=resampling).to_argv()]
            report = self._run_worker(args, out_dir, feedback)
        return self._raster_outputs(context, out_dir, report, "Aligned SAR (from edited tie points)")
