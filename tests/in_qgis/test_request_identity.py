"""The dock and Processing send the engine the same request for the same choices: the same worker command,
the same parameters in report.json, and the same offsets."""

import json

import numpy as np
import pytest
import rasterio
from qgis.core import QgsProcessingFeedback

from sar_eo_coreg.core.choices import RESAMPLINGS, Transform
from tests.in_qgis.conftest import wait_until
from tests.in_qgis.test_dock import add_raster, choose


class CommandFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.commands = []

    def pushCommandInfo(self, info):  # noqa: N802
        self.commands.append(info)
        super().pushCommandInfo(info)


def _request_part(command, out):
    """The worker command without the output folder (which differs by design)."""
    i = command.index("--out")
    assert command[i + 1] == str(out)
    return command[:i] + command[i + 2:]


@pytest.mark.slow
def test_dock_and_processing_send_the_same_request(dock, project, provider, data_dir, tmp_path, qgis_app):
    import processing

    eo = add_raster(project, data_dir / "s1s2_eo.tif", "eo")
    sar = add_raster(project, data_dir / "s1s2_sar.tif", "sar")
    choose(dock, eo, sar, tmp_path / "dock", max_points=150)
    dock.transform.setCurrentIndex(dock.transform.findData("tps"))
    dock.resampling.setCurrentText("cubic")
    dock.radius.setValue(400.0)
    dock.start_coregistration()
    assert dock.task is not None, dock.status.text()
    dock_command = list(dock.task.worker.command)
    assert wait_until(qgis_app, lambda: dock.task is None, 300), "the dock's task did not finish"
    assert dock.run is not None, dock.status.text()
    dock_out = tmp_path / "dock" / dock.run.name

    feedback = CommandFeedback()
    processing.run("sar_eo_coreg:coregister", {
        "EO": str(data_dir / "s1s2_eo.tif"), "SAR": str(data_dir / "s1s2_sar.tif"), "MAX_POINTS": 150,
        "TRANSFORM": Transform.names().index("tps"), "RESAMPLING": RESAMPLINGS.index("cubic"),
        "SEARCH_RADIUS_M": 400.0, "OUTPUT_FOLDER": str(tmp_path / "processing")}, feedback=feedback)
    assert len(feedback.commands) == 1
    processing_command = feedback.commands[0].split("  [Python from")[0].split(" ") + ["--progress", "jsonl"]

    assert _request_part(dock_command, dock_out) == _request_part(processing_command, tmp_path / "processing")
    reports = [json.loads((folder / "report.json").read_text()) for folder in (dock_out, tmp_path / "processing")]
    assert reports[0]["parameters"] == reports[1]["parameters"]
    assert reports[0]["parameters"]["transform"] == "tps" and reports[0]["parameters"]["max_points"] == 150
    with rasterio.open(dock_out / "offsets.tif") as a, rasterio.open(tmp_path / "processing" / "offsets.tif") as b:
        np.testing.assert_array_equal(a.read(), b.read())

    # apply: the dock's Apply & export and Processing's warp_from_tiepoints build it from the same ApplyParams
    review_tps = dock.review_transform.findData("tps")
    dock.review_transform.setCurrentIndex(review_tps)
    dock.apply_edits()
    assert dock.task is not None, dock.status.text()
    dock_apply = list(dock.task.worker.command)
    assert wait_until(qgis_app, lambda: dock.task is None, 300)
    feedback = CommandFeedback()
    processing.run("sar_eo_coreg:warp_from_tiepoints", {
        "TIEPOINTS": str(dock_out / "tiepoints.gpkg") + "|layername=tiepoints", "EO": str(data_dir / "s1s2_eo.tif"),
        "SAR": str(data_dir / "s1s2_sar.tif"), "TRANSFORM": Transform.names().index("tps"),
        "RESAMPLING": RESAMPLINGS.index("cubic"), "OUTPUT_FOLDER": str(tmp_path / "processing_apply")},
        feedback=feedback)
    processing_apply = feedback.commands[0].split("  [Python from")[0].split(" ") + ["--progress", "jsonl"]

    def options(command):  # the request: what follows the output folder
        return command[command.index("--out") + 2:]

    assert options(dock_apply) == options(processing_apply)
    assert options(dock_apply)[:4] == ["--transform", "tps", "--resampling", "cubic"]
    reports = [json.loads((folder / "report.json").read_text())
               for folder in (tmp_path / "dock" / f"{dock.run.name}_edited1", tmp_path / "processing_apply")]
    assert reports[0]["parameters"] == reports[1]["parameters"] == {"transform": "tps", "resampling": "cubic",
                                                                    "eo_crs": None, "sar_crs": None}
