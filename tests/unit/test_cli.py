"""The command line: subcommands, bad input (exit 2, one line, no traceback, no outputs), JSON lines."""

import json
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from affine import Affine

from tests.conftest import REPO


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "sar_eo_coreg", *map(str, args)], cwd=REPO, capture_output=True, text=True,
        timeout=timeout,
    )


def test_help_lists_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("coregister", "apply", "demo"):
        assert command in result.stdout


def test_no_subcommand_is_an_error_with_usage():
    result = run_cli()
    assert result.returncode == 2
    assert "usage:" in result.stderr


GRID = Affine(10, 0, 500000, 0, -10, 5000000)


def _write(path, data, crs="EPSG:32631", transform=GRID, nodata=None):
    profile = {"driver": "GTiff", "width": data.shape[-1], "height": data.shape[-2], "count": 1, "dtype": data.dtype.name,
               "transform": transform, "nodata": nodata}
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data[None] if data.ndim == 2 else data)
    return path


@pytest.fixture()
def bad_inputs(tmp_path, data_dir):
    rng = np.random.default_rng(0)
    noise = rng.integers(1, 255, (128, 128), dtype=np.uint8)
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes((data_dir / "s1s2_sar.tif").read_bytes()[:5000])
    text = tmp_path / "notes.tif"
    text.write_text("not a raster")
    return {
        "missing": (tmp_path / "nope.tif", "not found"),
        "text": (text, "not a readable raster"),
        "truncated": (truncated, "truncated or corrupt"),
        "no_crs": (_write(tmp_path / "nocrs.tif", noise, crs=None), "has no CRS"),
        "far_away": (_write(tmp_path / "far.tif", noise, transform=Affine(10, 0, 100000, 0, -10, 1000000)), "do not overlap"),
        "all_nodata": (_write(tmp_path / "empty.tif", np.zeros((128, 128), np.uint8), nodata=0,
                              transform=Affine(10, 0, 500000, 0, -10, 5000000)), "no valid pixels"),
    }


@pytest.mark.parametrize("case", ["missing", "text", "truncated", "no_crs", "far_away", "all_nodata"])
def test_bad_sar_input_gives_one_line_and_no_outputs(case, bad_inputs, tmp_path, data_dir):
    sar, expected = bad_inputs[case]
    eo = data_dir / "s1s2_eo.tif"
    if case in ("far_away", "all_nodata"):  # these need an EO on the same made-up grid
        eo = _write(tmp_path / "eo_grid.tif", np.random.default_rng(1).integers(1, 255, (128, 128), dtype=np.uint8))
    out = tmp_path / "out"
    result = run_cli("coregister", "--eo", eo, "--sar", sar, "--out", out, "--progress", "none")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_same_file_twice_is_refused(data_dir, tmp_path):
    result = run_cli("coregister", "--eo", data_dir / "s1s2_eo.tif", "--sar", data_dir / "s1s2_eo.tif", "--out", tmp_path / "o")
    assert result.returncode == 2 and "same file" in result.stderr and "Traceback" not in result.stderr


def test_unrelated_images_give_the_input_georeference_with_a_warning_not_a_warp(tmp_path, data_dir):
    """Do no harm: EO of one place, SAR of another. The run completes, says NOT ALIGNED in one line, and its
    offsets are zero (the input georeference), its confidence zero, its verdict not_aligned."""
    with rasterio.open(data_dir / "s1s2_eo.tif") as ds:
        eo_data = ds.read(1)[:256, :256]
    with rasterio.open(data_dir / "s1s2_sar.tif") as ds:
        sar_data = ds.read(1)[-256:, -256:]  # the opposite corner of the scene: other ground
    eo, sar = _write(tmp_path / "eo.tif", eo_data), _write(tmp_path / "sar.tif", sar_data)
    result = run_cli("coregister", "--eo", eo, "--sar", sar, "--out", tmp_path / "out", "--progress", "none")
    assert result.returncode == 0, result.stderr
    warning = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warning) == 1 and warning[0].startswith("warning: NOT ALIGNED") and "input georeference" in warning[0]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["verdict"] == "not_aligned" and report["used"] == 0 and report["confidence_mean"] == 0
    with rasterio.open(tmp_path / "out" / "offsets.tif") as off, rasterio.open(tmp_path / "out" / "confidence.tif") as c:
        offsets, confidence = off.read(), c.read(1)
    assert np.nanmax(np.abs(offsets)) == 0 and np.nanmax(confidence) == 0


def test_jsonl_progress_ends_with_a_result(tmp_path, data_dir):
    eo, sar = tmp_path / "eo.tif", tmp_path / "sar.tif"
    shutil.copy(data_dir / "s1s2_eo.tif", eo)
    shutil.copy(data_dir / "s1s2_sar.tif", sar)
    result = run_cli("coregister", "--eo", eo, "--sar", sar, "--out", tmp_path / "out", "--progress", "jsonl",
                     "--transform", "tps")
    assert result.returncode == 0, result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    fractions = [m["fraction"] for m in messages if m["type"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert messages[-1]["type"] == "result" and messages[-1]["report"]["transform"] == "tps"
    # an aligned pair: the offsets found are small
    with rasterio.open(tmp_path / "out" / "offsets.tif") as ds:
        offsets = ds.read()
    assert np.nanmedian(np.abs(offsets)) < 3.0


def test_sigterm_cancels_and_leaves_nothing(tmp_path, data_dir):
    """The plugin's Cancel terminates the worker: exit 130, one line, no outputs or temporary folders."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", str(data_dir / "s1s2_eo.tif"), "--sar",
         str(data_dir / "s1s2_sar.tif"), "--out", str(tmp_path / "out"), "--progress", "jsonl"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    first = json.loads(proc.stdout.readline())  # the run has started
    assert first["type"] == "progress"
    proc.terminate()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert stderr.strip().splitlines()[-1] == "error: Cancelled; no outputs were written."
    assert list(tmp_path.iterdir()) == []


def test_env_reports_versions_and_device():
    result = run_cli("env")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["ok"] is True and info["missing"] == []
    assert info["versions"]["numpy"].startswith("1.")
    assert info["device"] in ("CPU", "CUDA GPU (onnxruntime)") and info["runtime"].startswith("lean")


def test_convert_round_trips_tiepoints_through_points_and_csv(data_dir, tmp_path):
    eo, sar = data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif"
    found = run_cli("coregister", "--eo", eo, "--sar", sar, "--out", tmp_path / "run", "--max-points", 100,
                    "--tiepoints-only", "--progress", "none")
    assert found.returncode == 0, found.stderr
    assert not (tmp_path / "run" / "aligned_sar.tif").exists()
    gpkg = tmp_path / "run" / "tiepoints.gpkg"
    for suffix in (".points", ".csv"):
        exported = tmp_path / f"tp{suffix}"
        assert run_cli("convert", "--tiepoints", gpkg, "--to", exported, "--eo", eo, "--sar", sar).returncode == 0
        back = tmp_path / f"back{suffix}.gpkg"
        assert run_cli("convert", "--tiepoints", exported, "--to", back, "--eo", eo, "--sar", sar).returncode == 0
        with sqlite3.connect(gpkg) as a, sqlite3.connect(back) as b:
            original = a.execute("SELECT eo_x, eo_y, sar_x, sar_y FROM tiepoints ORDER BY id").fetchall()
            again = b.execute("SELECT eo_x, eo_y, sar_x, sar_y FROM tiepoints ORDER BY id").fetchall()
        assert np.allclose(np.array(again), np.array(original), atol=0.05)
    bad = run_cli("convert", "--tiepoints", gpkg, "--to", tmp_path / "tp.txt", "--eo", eo, "--sar", sar)
    assert bad.returncode == 2 and "Write a .gpkg, .csv or .points" in bad.stderr
    assert not (tmp_path / "tp.txt").exists()


def test_demo_runs_end_to_end_and_beats_zero_shift(tmp_path):
    """The main job (`make demo`): a real Sentinel-1/2 sample with a known displacement, coregistered and scored."""
    result = run_cli("demo", "--out", tmp_path / "demo")
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line.startswith(("before", "after"))}
    assert float(rows["after"][1]) < float(rows["before"][2]) / 4  # mean error: after against zero shift
    assert "verdict aligned" in result.stdout and (tmp_path / "demo" / "checkerboard.png").exists()


@pytest.mark.parametrize("request_", [
    {},
    {"matcher": "learned", "model": "default", "transform": "tps", "device": "cpu", "seed": 7, "search_radius_m": 120.0,
     "resampling": "cubic", "working_gsd_m": 2.5, "eo_bands": (1, 3), "sar_scale": "db", "max_points": 300,
     "tiepoints_only": True, "eo_crs": "EPSG:32631", "sar_crs": "EPSG:4326"},
])
def test_a_request_crosses_the_process_boundary_unchanged(request_):
    """What the dock and Processing send (CoregParams.to_argv) is what the worker's CLI parses back."""
    from sar_eo_coreg.cli import build_parser
    from sar_eo_coreg.core.request import CoregParams

    sent = CoregParams(**request_)
    args = build_parser().parse_args(["coregister", "--eo", "e.tif", "--sar", "s.tif", "--out", "o", *sent.to_argv()])
    assert CoregParams.from_args(args) == sent
