"""Training on real fixture data: sample geometry, the SpaceNet 9 reader, grouped folds, a CPU smoke
training whose loss goes down, checkpoints with metadata, resume, evaluation; a checkpoint is not an engine
model (tests/unit/test_learned.py covers those)."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio

from sar_eo_coreg.core.errors import CoregError
from sar_eo_coreg.core.raster import eo_grid, eo_radiometry, open_info, read_display_image, sar_radiometry
from sar_eo_coreg.training.chips import StructuralChipMatcher
from sar_eo_coreg.training.data import (
    PairImages,
    assign_folds,
    draw_samples,
    load_aligned_pairs,
    load_spacenet,
    read_spacenet_csv,
)
from sar_eo_coreg.training.metrics import evaluate_matcher
from sar_eo_coreg.training.train import TrainConfig, safe_num_workers, train
from tests.conftest import REPO


@pytest.fixture(scope="module")
def index(tmp_path_factory, data_dir):
    """The fixture S1/S2 crop as an aligned-pair index, as ../shared/data/aligned/index.csv is laid out."""
    root = tmp_path_factory.mktemp("aligned")
    with open(root / "index.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "id", "eo", "sar", "width", "height", "gsd_m", "georeferenced"])
        writer.writerow(["s1s2_fixture", "003", str(data_dir / "s1s2_eo.tif"), str(data_dir / "s1s2_sar.tif"),
                         512, 512, 10, "yes"])
    return root / "index.csv"


@pytest.fixture(scope="module")
def pair(index):
    return load_aligned_pairs(index)[0]


def test_training_reads_pair_files_as_the_engine_reads_them(data_dir, tmp_path):
    """Aligned pairs may lack a georeference: training reads them on their own pixels, with the engine's
    radiometry (luminance, SAR scale) and stretch, so a model sees what the engine will show it."""
    for name in ("s1s2_eo.tif", "s1s2_sar.tif"):
        with rasterio.open(data_dir / name) as src:
            profile, data = src.profile, src.read()
        profile.pop("crs"), profile.pop("transform")
        with rasterio.open(tmp_path / name, "w", **profile) as dst:  # the same pixels, no georeference
            dst.write(data)
    with open(tmp_path / "index.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([["source", "id", "eo", "sar"], ["plain", "1", "s1s2_eo.tif", "s1s2_sar.tif"]])
    pair = load_aligned_pairs(tmp_path / "index.csv")[0]
    for image, name, role in ((pair.eo, "s1s2_eo.tif", "EO"), (pair.sar, "s1s2_sar.tif", "SAR")):
        info = open_info(data_dir / name, role)
        radiometry = eo_radiometry(info) if role == "EO" else sar_radiometry(info)
        engine = read_display_image(info, radiometry, eo_grid(info), role)
        assert image.shape == engine.shape and image.std() > 10
        assert np.abs(image.astype(int) - engine.astype(int)).max() <= 1


def test_sample_labels_follow_flips_rotations_and_warps(pair):
    """With the EO as its own 'SAR', matching recovers each sample's label: chips and label stay consistent."""
    same = PairImages("self", "1", pair.eo, pair.eo, pair.points, pair.disp)
    samples = draw_samples([same], 64, seed=3, radius=12, augment=True, max_offset=10)
    batch = StructuralChipMatcher("cpu")
    result = evaluate_matcher(batch, samples)
    assert result["median"] < 0.6 and result["pck3"] > 0.9


def test_spacenet_reader_on_the_real_format(data_dir):
    ties = read_spacenet_csv(data_dir / "spacenet9_tiepoints_sample.csv")
    assert ties.shape == (40, 4) and (ties >= 0).all()
    assert ties[0].tolist() == [189, 4969, 430, 6723]
    with pytest.raises(CoregError, match="outside its raster"):  # real SpaceNet coordinates, our 512² crop
        load_spacenet(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", data_dir / "spacenet9_tiepoints_sample.csv")


def test_spacenet_tiepoints_become_displacements_on_the_eo_grid(data_dir, tmp_path):
    path = tmp_path / "ties.csv"
    path.write_text("sar_row,sar_col,optical_row,optical_col\n100,205,103,200\n300,310,303,305\n")
    aoi = load_spacenet(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", path)
    assert aoi.points.tolist() == [[200, 103], [305, 303]]
    assert np.allclose(aoi.disp, [[5, -3], [5, -3]])  # same grid: the SAR pixel minus the optical pixel


def test_spacenet_reader_refuses_a_wrong_file(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("row,col\n1,2\n")
    with pytest.raises(CoregError, match="column 'sar_row' is missing"):
        read_spacenet_csv(bad)


def test_folds_are_grouped_and_balanced():
    pairs = [PairImages(src, str(i), None, None, np.zeros((0, 2)), np.zeros((0, 2)))
             for src, n in (("a", 10), ("b", 5)) for i in range(n)]
    folds = assign_folds(pairs, 5, seed=0)
    assert sorted(np.bincount(folds).tolist()) == [3, 3, 3, 3, 3]
    assert all(len({f for p, f in zip(pairs, folds) if p.source == "b"}) == 5 for _ in [0])


def test_no_dataloader_workers_inside_qgis(monkeypatch):
    monkeypatch.setitem(sys.modules, "qgis", object())
    assert safe_num_workers() == 0


@pytest.fixture(scope="module")
def trained(pair, tmp_path_factory):
    out = tmp_path_factory.mktemp("train")
    cfg = TrainConfig(model="unet", steps=40, batch=8, lr=3e-3, val_every=20, val_samples=32, seed=0, device="cpu",
                      model_overrides={"width": 4})
    summary = train(cfg, [pair], [pair], out, {"data": "fixture"}, progress=False, log=lambda *a: None)
    return out, summary


def test_smoke_training_lowers_the_loss_and_writes_a_model_card(trained):
    out, summary = trained
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [int(r["step"]) for r in rows] == [20, 40]
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    card = json.loads((out / "best.pt.json").read_text())
    assert card["name"] == "unet" and card["config"]["width"] == 4 and card["head"] == "softmax"
    assert card["parameters"] == summary["parameters"] and "val" in card["metrics"]
    assert (out / "best.pt.sha256").read_text().split()[0] == card["sha256"]


def test_resume_continues_an_interrupted_run(pair, tmp_path):
    cfg = TrainConfig(model="unet", steps=40, batch=4, lr=3e-3, val_every=10, val_samples=16, device="cpu",
                      model_overrides={"width": 4})
    quiet = {"progress": False, "log": lambda *a: None}
    assert train(cfg, [pair], [pair], tmp_path, {}, until=20, **quiet)["steps"] == 20
    assert train(cfg, [pair], [pair], tmp_path, {}, resume=True, **quiet)["steps"] == 40
    assert [int(r["step"]) for r in csv.DictReader(open(tmp_path / "metrics.csv"))] == [10, 20, 30, 40]


def test_corrupt_weights_are_refused(trained, tmp_path):
    from sar_eo_coreg.models.card import load_weights

    out, _ = trained
    broken = tmp_path / "broken.pt"
    broken.write_bytes((out / "best.pt").read_bytes()[:-100])
    (tmp_path / "broken.pt.sha256").write_text((out / "best.pt.sha256").read_text())
    with pytest.raises(CoregError, match="do not match their sha256"):
        load_weights(broken)


def test_a_training_checkpoint_is_refused_as_an_engine_model_in_one_line(trained, data_dir, tmp_path):
    out, _ = trained
    result = subprocess.run(
        [sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", data_dir / "s1s2_eo.tif", "--sar",
         data_dir / "s1s2_sar.tif", "--out", tmp_path / "run", "--matcher", "learned", "--model", out / "best.pt"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "is not a model card" in result.stderr
    assert not (tmp_path / "run").exists()


def test_missing_model_is_one_line(data_dir, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", data_dir / "s1s2_eo.tif", "--sar",
         data_dir / "s1s2_sar.tif", "--out", tmp_path / "run", "--matcher", "learned", "--model", "nope"],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "No model named 'nope'" in result.stderr


def test_evaluate_command_scores_models_and_the_structural_baseline(trained, index, tmp_path):
    out, _ = trained
    report = tmp_path / "eval.json"
    result = subprocess.run(
        [sys.executable, "-m", "sar_eo_coreg", "evaluate", "--model", out / "best.pt", "--aligned-index", index,
         "--folds", "1", "--fold", "0", "--samples", "32", "--structural", "--out", report],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    results = json.loads(report.read_text())["results"]
    assert set(results) == {"structural", str(out / "best.pt")}
    for row in results.values():
        assert 0 <= row["pck1"] <= row["pck3"] <= row["pck5"] <= row["pck10"] <= row["pck20"] <= 1
