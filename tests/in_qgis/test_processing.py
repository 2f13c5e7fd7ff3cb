"""The Processing algorithms run the engine (through its worker) from processing.run and qgis_process.bin:
outputs, progress and cancel through QgsProcessingFeedback, and the engine's one-line errors."""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess

import pytest
from qgis.core import QgsProcessingException, QgsProcessingFeedback, QgsVectorLayer

from tests.conftest import REPO

TPS = 2  # index of "tps" in the TRANSFORM choices (auto, grid, tps, ...)


class RecordingFeedback(QgsProcessingFeedback):
    def __init__(self, cancel_at=None):
        super().__init__()
        self.values, self.infos, self.cancel_at = [], [], cancel_at
        self.progressChanged.connect(self._progress)

    def _progress(self, value):
        self.values.append(value)
        if self.cancel_at is not None and value >= self.cancel_at:
            self.cancel()

    def pushInfo(self, info):  # noqa: N802
        self.infos.append(info)
        super().pushInfo(info)


def inputs(data_dir, **extra):
    return {"EO": str(data_dir / "s1s2_eo.tif"), "SAR": str(data_dir / "s1s2_sar.tif"), "MAX_POINTS": 200, **extra}


@pytest.mark.slow
def test_coregister_writes_the_outputs_and_reports_progress(provider, data_dir, tmp_path):
    import processing

    feedback = RecordingFeedback()
    result = processing.run("sar_eo_coreg:coregister",
                            inputs(data_dir, TRANSFORM=TPS, OUTPUT_FOLDER=str(tmp_path / "run")), feedback=feedback)
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["transform"] == "tps" and result["RMSE"] == pytest.approx(report["residual_rmse_px"])
    assert os.path.exists(result["ALIGNED"]) and os.path.exists(result["OFFSETS"])
    assert QgsVectorLayer(result["TIEPOINTS"], "t", "ogr").featureCount() == report["tiepoints"]
    assert feedback.values == sorted(feedback.values) and feedback.values[-1] >= 90
    assert any("Dense matching" in info for info in feedback.infos)
    assert result["VERDICT"] == report["verdict"] and os.path.exists(result["CONFIDENCE"])


@pytest.mark.slow
def test_detect_then_warp_from_edited_tiepoints(provider, data_dir, tmp_path):
    import processing

    gpkg = tmp_path / "found.gpkg"
    found = processing.run("sar_eo_coreg:detect_tiepoints", inputs(data_dir, OUTPUT=str(gpkg)))
    assert found["OUTPUT"] == str(gpkg) and found["COUNT"] >= 20
    assert sorted(os.listdir(tmp_path)) == ["found.gpkg"]  # no rasters, no temporary folder left

    with sqlite3.connect(gpkg) as con:  # the analyst disables five points
        con.execute("UPDATE tiepoints SET enabled = 0 WHERE id <= 5")
    enabled = found["COUNT"] - 5
    digest = hashlib.sha256(gpkg.read_bytes()).hexdigest()
    layer = QgsVectorLayer(f"{gpkg}|layername=tiepoints", "edited", "ogr")
    result = processing.run("sar_eo_coreg:warp_from_tiepoints", {
        "TIEPOINTS": layer, "EO": str(data_dir / "s1s2_eo.tif"), "SAR": str(data_dir / "s1s2_sar.tif"),
        "TRANSFORM": TPS, "OUTPUT_FOLDER": str(tmp_path / "warped")})
    report = json.loads((tmp_path / "warped" / "report.json").read_text())
    assert report["command"] == "apply" and report["used"] <= enabled and report["tiepoints"] == found["COUNT"]
    assert os.path.exists(result["ALIGNED"])
    assert hashlib.sha256(gpkg.read_bytes()).hexdigest() == digest  # the input is not modified


def test_engine_errors_become_processing_exceptions(provider, data_dir, tmp_path):
    import processing

    params = inputs(data_dir, OUTPUT_FOLDER=str(tmp_path / "run"))
    params["SAR"] = params["EO"]
    with pytest.raises(QgsProcessingException, match="same file"):
        processing.run("sar_eo_coreg:coregister", params)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_cancel_through_feedback_leaves_nothing(provider, data_dir, tmp_path):
    import processing

    feedback = RecordingFeedback(cancel_at=20)
    with pytest.raises(QgsProcessingException, match="Cancelled"):
        processing.run("sar_eo_coreg:coregister", inputs(data_dir, MAX_POINTS=3000, OUTPUT_FOLDER=str(tmp_path / "run")),
                       feedback=feedback)
    assert os.listdir(tmp_path) == []


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("qgis_process.bin") is None, reason="needs QGIS's qgis_process.bin")
def test_qgis_process_runs_coregister(data_dir, tmp_path, worker_python):
    env = {**os.environ, "HOME": str(tmp_path / "home"), "QGIS_PLUGINPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen",
           "SAR_EO_COREG_PYTHON": worker_python}
    os.makedirs(env["HOME"])
    enable = subprocess.run(["qgis_process.bin", "plugins", "enable", "sar_eo_coreg"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert enable.returncode == 0, enable.stderr
    out = tmp_path / "run"
    run = subprocess.run(
        ["qgis_process.bin", "--json", "run", "sar_eo_coreg:coregister", "--", f"EO={data_dir / 's1s2_eo.tif'}",
         f"SAR={data_dir / 's1s2_sar.tif'}", f"OUTPUT_FOLDER={out}", "MAX_POINTS=200"],
        env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    results = json.loads(run.stdout[run.stdout.index("{"):])["results"]
    assert results["OUTPUT_FOLDER"] == str(out) and results["RMSE"] > 0
    assert {"aligned_sar.tif", "offsets.tif", "tiepoints.gpkg", "report.json"} <= set(os.listdir(out))


def test_outputs_load_styled_with_the_run_name_and_expert_options_are_advanced(provider, data_dir, tmp_path,
                                                                               qgis_new_project):
    import processing
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition, QgsProject

    from sar_eo_coreg.core.request import in_field_words
    from tests.in_qgis.test_hostile_in_qgis import tiepoints_gpkg

    gpkg = tiepoints_gpkg(data_dir, tmp_path)
    for run in ("first", "second"):
        processing.runAndLoadResults("sar_eo_coreg:warp_from_tiepoints", {
            "TIEPOINTS": f"{gpkg}|layername=tiepoints", "EO": str(data_dir / "s1s2_eo.tif"),
            "SAR": str(data_dir / "s1s2_sar.tif"), "OUTPUT_FOLDER": str(tmp_path / run)})
    project = QgsProject.instance()
    for run in ("first", "second"):  # repeated runs are told apart, and look as in the dock
        points = project.mapLayersByName(f"Tie points ({run})")
        links = project.mapLayersByName(f"Tie-point links ({run})")
        assert len(points) == len(links) == 1
        assert points[0].renderer().type() == links[0].renderer().type() == "RuleRenderer"
        assert project.mapLayersByName(f"Offsets ({run})")
        aligned = project.mapLayersByName(f"Aligned SAR (from edited tie points) ({run})")
        assert aligned and aligned[0].renderer().opacity() < 1

    algorithm = QgsApplication.processingRegistry().algorithmById("sar_eo_coreg:coregister")
    advanced = {p.name() for p in algorithm.parameterDefinitions()
                if p.flags() & QgsProcessingParameterDefinition.FlagAdvanced}
    assert {"SEED", "DEVICE", "MODEL", "SEARCH_RADIUS_M"} <= advanced and "EO" not in advanced
    assert all(p.help() for p in algorithm.parameterDefinitions())
    assert in_field_words("try a larger --search-radius-m.", quote="'") == "try a larger 'Search radius'."


def test_coregister_loads_its_outputs_as_one_styled_group(provider, data_dir, tmp_path, qgis_new_project):
    """runAndLoadResults, as the toolbox does: one group for the run at the top of the tree; the aligned SAR and
    the tie points visible, the offsets and the confidence loaded but hidden (they would cover the map)."""
    import processing
    from qgis.core import QgsLayerTreeGroup, QgsProject

    processing.runAndLoadResults("sar_eo_coreg:coregister", {
        "EO": str(data_dir / "s1s2_eo.tif"), "SAR": str(data_dir / "s1s2_sar.tif"), "MAX_POINTS": 200,
        "OUTPUT_FOLDER": str(tmp_path / "run1")})
    root = QgsProject.instance().layerTreeRoot()
    group = root.children()[0]
    assert isinstance(group, QgsLayerTreeGroup) and group.name() == "Coregistration (run1)"
    visible = {node.name(): node.itemVisibilityChecked() for node in group.findLayers()}
    assert visible == {"Aligned SAR (run1)": True, "Offsets (run1)": False, "Tie-point links (run1)": True,
                       "Tie points (run1)": True, "Confidence (run1)": False}
    assert not [node for node in root.children() if not isinstance(node, QgsLayerTreeGroup)]  # nothing loose
    confidence = group.findLayers()[[n.name() for n in group.findLayers()].index("Confidence (run1)")].layer()
    assert confidence.renderer().type() == "singlebandpseudocolor"


@pytest.mark.slow
def test_coregister_many_runs_a_batch_and_loads_the_pairs_by_verdict(provider, data_dir, tmp_path, qgis_new_project):
    """One EO layer and two SAR layers (one a file that is not a raster): the batch runs both on a local Dask
    cluster, the good pair's folder is complete, the failed one is reported, and the footprint layer loads in its
    own group, coloured by verdict."""
    import processing
    from qgis.core import QgsLayerTreeGroup, QgsProject, QgsRasterLayer

    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"not a raster")
    eo = QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo")
    good = QgsRasterLayer(str(data_dir / "s1s2_sar.tif"), "Sentinel-1 VH")
    QgsProject.instance().addMapLayers([eo, good])
    feedback = RecordingFeedback()
    errors = []
    feedback.reportError = lambda text, fatal=False: errors.append(text)
    manifest = tmp_path / "pairs.csv"
    manifest.write_text(f"eo,sar,name\n{data_dir / 's1s2_eo.tif'},{data_dir / 's1s2_sar.tif'},good\n"
                        f"{data_dir / 's1s2_eo.tif'},{broken},broken\n")
    result = processing.runAndLoadResults("sar_eo_coreg:coregister_many", {
        "MANIFEST": str(manifest), "MAX_POINTS": 200, "WORKERS": 2, "OUTPUT_FOLDER": str(tmp_path / "many")},
        feedback=feedback)
    assert result["DONE"] == 1 and result["FAILED"] == 1
    assert (tmp_path / "many" / "good" / "report.json").exists() and not (tmp_path / "many" / "broken").exists()
    assert any(line.startswith("broken: FAILED") for line in errors)
    assert any("2 pairs: 1 done, 1 failed" in info for info in feedback.infos)
    group = QgsProject.instance().layerTreeRoot().findGroup("Coregister many (many)")
    assert isinstance(group, QgsLayerTreeGroup)
    layer = group.findLayers()[0].layer()
    assert layer.featureCount() == 2 and layer.renderer().type() == "categorizedSymbol"
    assert {c.value() for c in layer.renderer().categories()} >= {"aligned", "not_aligned", ""}

    # the EO layer and SAR layers: the manifest is written for them (names from the layers)
    result = processing.run("sar_eo_coreg:coregister_many", {
        "EO": eo, "SARS": [good], "MAX_POINTS": 200, "WORKERS": 1, "OUTPUT_FOLDER": str(tmp_path / "layers")})
    assert result["DONE"] == 1 and (tmp_path / "layers" / "Sentinel-1_VH" / "report.json").exists()
    with pytest.raises(QgsProcessingException, match="either a manifest"):
        processing.run("sar_eo_coreg:coregister_many", {"MANIFEST": str(manifest), "EO": eo, "SARS": [good],
                                                        "OUTPUT_FOLDER": str(tmp_path / "both")})


def test_the_dock_s_worker_task_runs_a_batch_in_the_background(data_dir, tmp_path, worker_python, qgis_app):
    """The same background task as the dock's runs: progress over pairs, and the batch's result as its payload
    even though a pair failed (the batch's exit status says how many)."""
    from qgis.core import QgsApplication

    from sar_eo_coreg.ui.task import WorkerTask
    from tests.in_qgis.conftest import wait_until

    manifest = tmp_path / "pairs.csv"
    manifest.write_text(f"eo,sar,name\n{data_dir / 's1s2_eo.tif'},{data_dir / 's1s2_sar.tif'},good\n"
                        f"{data_dir / 's1s2_eo.tif'},{tmp_path / 'absent.tif'},absent\n")
    done, progress = [], []
    task = WorkerTask("batch", worker_python, ["batch", "--manifest", str(manifest), "--out", str(tmp_path / "b"),
                                               "--workers", "1", "--max-points", "200"], done.append)
    task.progressChanged.connect(progress.append)
    QgsApplication.taskManager().addTask(task)
    assert wait_until(qgis_app, lambda: done, 300)
    assert task.error is None and task.payload["report"]["counts"] == {"done": 1, "failed": 1}
    assert progress and max(progress) == 100.0
