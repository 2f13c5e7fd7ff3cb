"""Processing's "Coregister many": the batch command (Dask, local or a cluster) from a manifest CSV, or from
one EO layer and several SAR layers, with the summary layer loaded, coloured by verdict."""

from __future__ import annotations

import csv
import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingOutputVectorLayer,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
)

from ..batch import SUMMARY_GPKG
from ..batch.progress import pair_line
from ..bridge.settings import weights_env, worker_python
from ..bridge.tiepoint_layers import crs_args, source_path
from ..bridge.worker import WorkerCancelledError, WorkerError, engine_command, engine_run
from ..core.request import in_field_words
from .algorithms import EO, OUTPUT_FOLDER, _CoregAlgorithmBase, _work_folder

SARS, MANIFEST, WORKERS, SCHEDULER, FORCE = "SARS", "MANIFEST", "WORKERS", "SCHEDULER", "FORCE"
SUMMARY, DONE, FAILED = "SUMMARY", "DONE", "FAILED"


def _stored_style(layer) -> None:
    """The style batch.gpkg carries (by verdict): Processing loads layers without their default style."""
    layer.loadDefaultStyle()


def _qgis_crs(layer, role: str) -> str:
    """The CRS set on the layer in QGIS where it is not its file's, else empty (the manifest's cell)."""
    args = crs_args(layer, role)
    return args[1] if args else ""


class CoregisterManyAlgorithm(_CoregAlgorithmBase):
    NAME = "coregister_many"
    DISPLAY = "Coregister many SAR to EO (batch)"
    HELP = ("Coregisters many pairs at once on Dask: a local cluster of worker processes, or an existing cluster by "
            "its scheduler's address. Give a manifest CSV (eo,sar[,name][,options]) or one EO layer and several SAR "
            "layers. Each pair gets its own subfolder of the output folder (as Coregister SAR to EO writes it); "
            "batch.csv and the layer of SAR footprints coloured by verdict summarise the batch. A pair that fails "
            "does not stop the others; running it again skips pairs whose complete result is already there.")

    def initAlgorithm(self, config=None):  # noqa: N802 (QGIS's name)
        self.addParameter(QgsProcessingParameterFile(MANIFEST, "Manifest CSV (eo,sar[,name][,options])",
                                                     extension="csv", optional=True))
        self.addParameter(QgsProcessingParameterRasterLayer(EO, "EO (optical) raster, for every SAR below",
                                                            optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers(SARS, "SAR rasters", QgsProcessing.TypeRaster,
                                                               optional=True))
        self._add_matching()
        self._add_fit()
        for parameter in (
            QgsProcessingParameterNumber(WORKERS, "Worker processes (0 = one per two cores)",
                                         type=QgsProcessingParameterNumber.Type.Integer, minValue=0, defaultValue=0),
            QgsProcessingParameterString(SCHEDULER, "Dask scheduler address (empty = a local cluster)", optional=True),
            QgsProcessingParameterBoolean(FORCE, "Run pairs whose complete result is already there again",
                                          defaultValue=False),
        ):
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)
        self.addParameter(QgsProcessingParameterFolderDestination(OUTPUT_FOLDER, "Output folder"))
        self.addOutput(QgsProcessingOutputVectorLayer(SUMMARY, "Pairs (SAR footprints by verdict)"))
        self.addOutput(QgsProcessingOutputNumber(DONE, "Pairs done (or already done)"))
        self.addOutput(QgsProcessingOutputNumber(FAILED, "Pairs failed"))

    def _manifest(self, parameters, context, work: str) -> str:
        """The manifest given, or one written for the EO layer and the SAR layers (their QGIS CRSs included)."""
        given = self.parameterAsFile(parameters, MANIFEST, context)
        eo = self.parameterAsRasterLayer(parameters, EO, context)
        sars = self.parameterAsLayerList(parameters, SARS, context)
        if given and (eo is not None or sars):
            raise QgsProcessingException("Give either a manifest CSV, or an EO raster with SAR rasters, not both.")
        if given:
            return given
        if eo is None or not sars:
            raise QgsProcessingException("Give a manifest CSV, or an EO raster and at least one SAR raster.")
        path = os.path.join(work, "pairs.csv")
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["eo", "sar", "name", "eo_crs", "sar_crs"])
            for sar in sars:
                writer.writerow([source_path(eo), source_path(sar), sar.name(), _qgis_crs(eo, "eo"), _qgis_crs(sar, "sar")])
        return path

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802 (QGIS's name)
        out_dir = self.parameterAsString(parameters, OUTPUT_FOLDER, context)
        workers = self.parameterAsInt(parameters, WORKERS, context)
        scheduler = self.parameterAsString(parameters, SCHEDULER, context).strip()
        with _work_folder(out_dir) as work:
            args = ["batch", "--manifest", self._manifest(parameters, context, work), "--out", out_dir,
                    *self._request(parameters, context).to_argv()]
            args += ["--workers", str(workers)] if workers > 0 else []
            args += ["--scheduler", scheduler] if scheduler else []
            args += ["--force"] if self.parameterAsBoolean(parameters, FORCE, context) else []
            result = self._run_batch(args, out_dir, feedback)
        counts = result["report"]["counts"]
        feedback.pushInfo(result["report"]["line"])
        summary = f"{os.path.join(out_dir, SUMMARY_GPKG)}|layername=pairs"
        run = os.path.basename(os.path.normpath(out_dir))
        self._load_on_completion(context, summary, f"Pairs ({run})", SUMMARY, f"Coregister many ({run})",
                                 _stored_style)
        return {OUTPUT_FOLDER: out_dir, SUMMARY: summary, DONE: counts.get("done", 0) + counts.get("skipped", 0),
                FAILED: counts.get("failed", 0)}

    def _run_batch(self, args, out_dir, feedback) -> dict:
        python, origin = worker_python()
        feedback.pushCommandInfo(f"{' '.join(engine_command(python, args))}  [Python from {origin}]")

        def on_event(event):
            if event.get("type") == "progress":
                feedback.setProgress(100.0 * float(event.get("fraction", 0.0)))
            elif event.get("type") == "pair":
                (feedback.reportError if event["status"] == "failed" else feedback.pushInfo)(pair_line(event))

        run = engine_run(python, args, out_dir, weights_env())
        try:
            return run.run(on_event, feedback.isCanceled)
        except WorkerCancelledError:
            raise QgsProcessingException("Cancelled; finished pairs are complete, the others have no outputs.") from None
        except WorkerError as exc:
            raise QgsProcessingException(in_field_words(str(exc), quote="'")) from None
