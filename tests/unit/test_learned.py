"""The learned half without torch at inference: every family model exported to ONNX matches torch on real
chips, runs in the dense engine through onnxruntime, and the shipped model runs where torch cannot be
imported; dense training reads no withdrawn or uncorrected data; model files are checked."""

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
import torch
from rasterio.windows import Window

from sar_eo_coreg.core import pipeline
from sar_eo_coreg.core.errors import CoregError
from sar_eo_coreg.core.raster import read_pixel_image
from sar_eo_coreg.core.request import CoregParams
from sar_eo_coreg.models.card import ModelCard, Normalisation
from sar_eo_coreg.models.descriptor import LearnedDescriptor, descriptor_for, find_model, read_card
from sar_eo_coreg.models.export import export_onnx
from sar_eo_coreg.models.registry import MODEL_NAMES, build_model
from sar_eo_coreg.training.dense import DenseConfig, draw, load_pairs, train_dense
from tests.conftest import REPO

NORM = Normalisation(0.35, 0.23, 0.34, 0.22)
NO_TORCH = "import sys, runpy; sys.modules['torch'] = None; sys.argv[0] = 'sar_eo_coreg'; " \
           "runpy.run_module('sar_eo_coreg', run_name='__main__', alter_sys=True)"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Every registry model, seeded, exported: name -> (torch network, card path)."""
    folder = tmp_path_factory.mktemp("onnx")
    models = {}
    for name in MODEL_NAMES:
        torch.manual_seed(0)
        net = build_model(name).eval()
        models[name] = net, export_onnx(net, ModelCard(name, {}, "descriptor", NORM), folder / name)
    return models


@pytest.fixture(scope="module")
def crop(tmp_path_factory, data_dir):
    """A 256² corner of the fixture S1/S2 pair (GeoTIFFs), small enough for the ResNet-50 family on the CPU."""
    folder = tmp_path_factory.mktemp("crop")
    for role in ("eo", "sar"):
        with rasterio.open(data_dir / f"s1s2_{role}.tif") as src:
            window = Window(128, 128, 256, 256)
            profile = {**src.profile, "width": 256, "height": 256, "transform": src.window_transform(window)}
            with rasterio.open(folder / f"{role}.tif", "w", **profile) as dst:
                dst.write(src.read(window=window))
    return folder / "eo.tif", folder / "sar.tif"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_onnx_matches_torch_on_real_chips(exported, data_dir, name):
    net, card = exported[name]
    learned = LearnedDescriptor("cpu", str(card))
    for modality in ("eo", "sar"):
        chip = read_pixel_image(data_dir / f"s1s2_{modality}.tif", modality.upper())[40:200, 60:252]  # 160 x 192
        descriptors, matchability = learned.run(chip, modality)
        mean, std = (NORM.eo_mean, NORM.eo_std) if modality == "eo" else (NORM.sar_mean, NORM.sar_std)
        x = torch.from_numpy(np.where(chip > 0, (chip / 255.0 - mean) / std, 0.0).astype(np.float32))[None, None]
        with torch.no_grad():
            ref_desc, ref_logits = net.describe(x, modality)
        assert descriptors.shape == (16, 160, 192)
        assert np.abs(descriptors - ref_desc[0].numpy()).max() <= 1e-4
        assert np.abs(matchability - torch.sigmoid(ref_logits)[0, 0].numpy()).max() <= 1e-4


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_every_family_model_runs_in_the_engine(exported, crop, tmp_path, name):
    """Smoke: the engine drives each (untrained) network through onnxruntime end to end and says how far to
    trust the result; an untrained descriptor must not claim a confident alignment it cannot have."""
    _, card = exported[name]
    params = CoregParams(matcher="learned", model=str(card), device="cpu", max_points=50, tiepoints_only=True)
    result = pipeline.coregister(*crop, tmp_path / "out", params, descriptors=descriptor_for)
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["descriptor"] == f"learned:{name}" and report["device"] == "CPU (onnxruntime)"
    assert report["model_hash"] == json.loads(card.read_text())["files"]["eo"]["sha256"]
    assert result.report.verdict in ("aligned", "aligned_partly", "not_aligned")


def test_the_shipped_model_runs_where_torch_cannot_be_imported(data_dir, tmp_path):
    """The lean runtime: coregister with the learned matcher and with CFOG, torch unimportable."""
    card_path = find_model("default")
    card = read_card(card_path)
    files = [card_path] + [card_path.with_name(card["files"][m]["file"]) for m in ("eo", "sar")]
    assert sum(f.stat().st_size for f in files) <= 20 * 2**20
    assert not any(group.startswith("srif_optsar/") for group in card["training"]["pairs"])
    for matcher in ("learned", "structural"):
        result = subprocess.run(
            [sys.executable, "-c", NO_TORCH, "coregister", "--eo", str(data_dir / "s1s2_eo.tif"), "--sar",
             str(data_dir / "s1s2_sar.tif"), "--out", str(tmp_path / matcher), "--matcher", matcher, "--max-points",
             "100", "--progress", "none", "--tiepoints-only"], cwd=REPO, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr
        report = json.loads((tmp_path / matcher / "report.json").read_text())
        if matcher == "learned":
            assert report["descriptor"].startswith("learned:") and report["model_hash"] == card["files"]["eo"]["sha256"]


def test_env_reports_the_runtime(tmp_path):
    result = subprocess.run([sys.executable, "-c", NO_TORCH, "env"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    info = json.loads(result.stdout)
    assert info["ok"] and info["runtime"] in ("lean", "lean + training tools") and "onnxruntime" in info["versions"]
    assert "torch" not in info["versions"]  # the engine's requirements have no torch


def test_a_damaged_model_is_refused_in_one_line(exported, tmp_path):
    _, card = exported["siamese_corr"]
    folder = tmp_path / "copy"
    folder.mkdir()
    for path in card.parent.glob("siamese_corr.*"):
        (folder / path.name).write_bytes(path.read_bytes())
    onnx = folder / "siamese_corr.sar.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-50])
    with pytest.raises(CoregError, match="does not match its sha256") as refused:
        LearnedDescriptor("cpu", str(folder / "siamese_corr.json"))
    assert "\n" not in str(refused.value)
    onnx.unlink()
    with pytest.raises(CoregError, match="is missing: copy it beside"):
        LearnedDescriptor("cpu", str(folder / "siamese_corr.json"))


def test_dense_training_leaves_out_withdrawn_and_uncorrected_pairs(data_dir, tmp_path):
    index = tmp_path / "index.csv"
    with open(index, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["source", "id", "eo", "sar"])
        for source, pair_id in (("srif_optsar", "1"), ("s1s2_volkov", "2"), ("s1s2_volkov", "3"), ("clean", "4")):
            writer.writerow([source, pair_id, str(data_dir / "s1s2_eo.tif"), str(data_dir / "s1s2_sar.tif")])
    corrections = tmp_path / "pair_check.json"
    windows = [[200.0, 220.0, 3.0, -2.0, 0.3, 2.0], [300.0, 300.0, 9.0, 9.0, 0.05, 1.0]]  # the second unreliable
    corrections.write_text(json.dumps([{"source": "s1s2_volkov", "id": "2", "offsets": windows}]))
    pairs = load_pairs(index, corrections)
    assert [p.group for p in pairs] == ["s1s2_volkov/2", "clean/4"]
    corrected = pairs[0]
    assert corrected.centres.tolist() == [[200.0, 220.0]] and corrected.offsets.tolist() == [[3.0, -2.0]]
    rng = np.random.default_rng(0)
    eo, sar, disp = draw(pairs[1], rng, DenseConfig())
    assert eo.shape == sar.shape == (128, 128) and disp.shape == (128, 128, 2)


def test_dense_training_learns_correspondences_and_exports(data_dir, tmp_path):
    """A short CPU run on one real pair (EO against itself, so a few steps show learning) writes a usable model
    whose card names its data and curve."""
    index = tmp_path / "index.csv"
    index.write_text(f"source,id,eo,sar\nself,1,{data_dir / 's1s2_eo.tif'},{data_dir / 's1s2_eo.tif'}\n")
    cfg = DenseConfig(model="siamese_corr", steps=40, batch=4, crop=96, lr=5e-3, points=128, minutes=60)
    card_path = train_dense(load_pairs(index), cfg, tmp_path / "m", log=lambda line: None)
    card = read_card(card_path)
    curve = card["metrics"]["curve"]
    assert card["training"]["pairs"] == ["self/1"] and card["training"]["steps_done"] == 40
    assert np.mean([c["loss"] for c in curve[-2:]]) < curve[0]["loss"] - 0.3
    assert LearnedDescriptor("cpu", str(card_path)).run(np.full((64, 64), 100, np.uint8), "eo")[0].shape == (16, 64, 64)
