"""The dock's run controller without a window: it refuses bad choices in one line, runs a real coregistration in a
background task, loads the run's layers and says how it went, all through its signals."""

import pytest
from qgis.core import QgsRasterLayer

from sar_eo_coreg.core.request import CoregParams
from sar_eo_coreg.ui.controller import RunController
from tests.in_qgis.conftest import wait_until


class Heard:
    """What a controller said, logged and reported, in order."""

    def __init__(self, controller):
        self.said, self.logged, self.progress, self.busy, self.loaded = [], [], [], [], 0
        controller.said.connect(lambda text, error: self.said.append((text, error)))
        controller.logged.connect(self.logged.append)
        controller.progressed.connect(self.progress.append)
        controller.busy.connect(self.busy.append)
        controller.loaded.connect(lambda: setattr(self, "loaded", self.loaded + 1))


@pytest.fixture()
def controller(qgis_app):
    controller = RunController()
    yield controller
    if controller.task is not None:
        controller.cancel()
        wait_until(qgis_app, lambda: controller.task is None, 30)


def layers(project, data_dir):
    eo = QgsRasterLayer(str(data_dir / "s1s2_eo.tif"), "eo")
    sar = QgsRasterLayer(str(data_dir / "s1s2_sar.tif"), "sar")
    project.addMapLayers([eo, sar])
    return eo, sar


def test_bad_choices_are_one_line_and_start_nothing(controller, project, data_dir, tmp_path):
    heard = Heard(controller)
    eo, sar = layers(project, data_dir)
    assert not controller.coregister(None, sar, str(tmp_path), CoregParams())
    assert not controller.coregister(eo, eo, str(tmp_path), CoregParams())
    assert not controller.coregister(eo, sar, "  ", CoregParams())
    assert not controller.coregister(eo, sar, "/proc/1/out", CoregParams())
    assert controller.task is None and heard.busy == [] and list(tmp_path.iterdir()) == []
    texts = [text for text, error in heard.said if error]
    assert len(texts) == 4 and all("\n" not in t for t in texts)
    assert "Choose an EO" in texts[0] and "are the same" in texts[1]
    assert "Choose an output folder" in texts[2] and "Cannot write to the output folder /proc/1/out" in texts[3]


def test_a_run_goes_through_the_signals_and_loads_its_layers(controller, project, data_dir, tmp_path, qgis_app):
    heard = Heard(controller)
    eo, sar = layers(project, data_dir)
    request = CoregParams(max_points=150)
    assert controller.coregister(eo, sar, str(tmp_path), request)
    assert not controller.coregister(eo, sar, str(tmp_path), request)  # one run at a time
    assert "already in progress" in heard.said[-1][0]
    assert wait_until(qgis_app, lambda: controller.task is None, 300)
    assert heard.busy == [True, False] and heard.loaded == 1
    assert heard.logged[0].startswith("$ ") and "--max-points 150" in heard.logged[0]
    assert heard.progress[0] == 0 and heard.progress[-1] == 100
    run = controller.run
    assert run is not None and run.layers.points.featureCount() > 0
    assert run.out_dir.startswith(str(tmp_path)) and run.name in run.out_dir
    done = heard.said[-1]
    assert done[0].startswith("Done: ") and run.out_dir in done[0] and not done[1]
