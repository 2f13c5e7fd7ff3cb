"""End to end on the real Sentinel-1/2 fixture with a known displacement: output contracts, an
accuracy threshold, reproducibility and the apply step."""

import csv
import json
import sqlite3

import numpy as np
import pytest
import rasterio

from sar_eo_coreg.core import pipeline
from sar_eo_coreg.core.outputs import OUTPUT_FILES
from sar_eo_coreg.core.report import CoregReport
from sar_eo_coreg.core.request import ApplyParams
from sar_eo_coreg.core.tiepoints import POINT_FIELDS
from sar_eo_coreg.evaluation import metrics, synthetic


@pytest.fixture(scope="module")
def scene(tmp_path_factory, data_dir):
    root = tmp_path_factory.mktemp("scene")
    field = synthetic.DisplacementField.random(512, 512, seed=7)
    synthetic.write_pair(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", root / "eo.tif", root / "sar.tif", field)
    points, truth = synthetic.truth_points(field, 512, 512, 512, 512)
    result = pipeline.coregister(root / "eo.tif", root / "sar.tif", root / "out", pipeline.CoregParams(seed=3))
    return root, result, points, truth


def test_all_outputs_are_written_and_nothing_else(scene):
    root, _, _, _ = scene
    assert sorted(p.name for p in (root / "out").iterdir()) == sorted(pipeline.OUTPUT_FILES)
    assert not [p for p in root.iterdir() if p.name.startswith(".sar_eo_coreg-")]  # no temporary folder left


def test_offsets_follow_the_spacenet9_contract(scene):
    root, _, _, _ = scene
    with rasterio.open(root / "out" / "offsets.tif") as off, rasterio.open(root / "eo.tif") as eo:
        assert off.count == 2 and off.dtypes == ("float32", "float32")
        assert (off.width, off.height, off.transform, off.crs) == (eo.width, eo.height, eo.transform, eo.crs)
        data = off.read()
    assert np.isfinite(data).mean() > 0.8  # defined where the rasters overlap


def test_offsets_are_accurate_on_real_sentinel_data(scene):
    root, _, points, truth = scene
    ours = metrics.score(metrics.sample_offsets(root / "out" / "offsets.tif", points), truth)
    zero = metrics.score(np.zeros_like(truth), truth)
    assert zero["mean"] > 20  # the displacement is real
    assert ours["mean"] < zero["mean"] / 4
    assert ours["pck5"] > 0.3


def test_aligned_sar_is_tiled_compressed_with_overviews_on_the_eo_grid(scene):
    root, _, _, _ = scene
    with rasterio.open(root / "out" / "aligned_sar.tif") as ds, rasterio.open(root / "eo.tif") as eo:
        assert (ds.width, ds.height, ds.transform, ds.crs) == (eo.width, eo.height, eo.transform, eo.crs)
        assert ds.block_shapes == [(512, 512)]  # tiles (strips would be a few rows high)
        assert ds.compression.value.lower() == "deflate"
        assert ds.overviews(1) == [2]
        assert ds.nodata == 0
        assert (ds.read(1) > 0).mean() > 0.8


def test_tiepoint_files_agree(scene):
    root, result, _, _ = scene
    con = sqlite3.connect(root / "out" / "tiepoints.gpkg")
    tables = {r[0] for r in con.execute("SELECT table_name FROM gpkg_contents")}
    columns = [r[1] for r in con.execute("PRAGMA table_info(tiepoints)")]
    n_points = con.execute("SELECT COUNT(*) FROM tiepoints").fetchone()[0]
    n_links = con.execute("SELECT COUNT(*) FROM links").fetchone()[0]
    inliers = con.execute("SELECT COUNT(*) FROM tiepoints WHERE inlier").fetchone()[0]
    regions = con.execute("SELECT COUNT(*) FROM fallback_regions").fetchone()[0]
    con.close()
    listed = json.loads((root / "out" / "report.json").read_text())["engine"]["self_check"]["fallback_regions"]
    assert tables == {"tiepoints", "links", "fallback_regions"}  # the run self-checked, so the layer is there
    assert regions == len(listed)  # and draws exactly the regions the report lists, none included
    assert columns == ["fid", "geom", *POINT_FIELDS]
    assert n_points == n_links == result.report.tiepoints and inliers == result.report.inliers
    with open(root / "out" / "tiepoints.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["sar_row", "sar_col", "optical_row", "optical_col", "score", "inlier"]
    assert len(rows) == n_points
    lines = (root / "out" / "tiepoints.points").read_text().splitlines()
    assert lines[0].startswith("#CRS: ") and lines[1] == "mapX,mapY,sourceX,sourceY,enable,dX,dY,residual"
    assert len(lines) == n_points + 2


def test_report_records_parameters_versions_and_timings(scene):
    root, _, _, _ = scene
    report = json.loads((root / "out" / "report.json").read_text())
    assert report["parameters"]["seed"] == 3 and report["parameters"]["matcher"] == "structural"
    assert {"numpy", "rasterio", "gdal", "onnxruntime", "sar_eo_coreg"} <= set(report["versions"])
    assert report["residual_rmse_px"] > 0 and report["timings_s"]["total_s"] > 0
    assert "model_hash" in report


def test_report_json_reads_back_as_the_runs_report(scene):
    root, result, _, _ = scene
    stored = CoregReport.from_dict(json.loads((root / "out" / "report.json").read_text()))
    assert stored.to_dict().keys() == result.report.to_dict().keys()
    for name in ("command", "tiepoints", "inliers", "used", "transform", "verdict", "message", "residual_rmse_px"):
        assert getattr(stored, name) == getattr(result.report, name), name
    assert stored.command == "coregister" and stored.verdict in ("aligned", "aligned_partly")
    assert set(stored.outputs) == {p.name for p in (root / "out").iterdir() if p.name in OUTPUT_FILES}
    assert stored.points_line().startswith(f"{stored.used} of {stored.tiepoints} tie points used")


def test_same_inputs_and_seed_reproduce_the_result(scene, tmp_path):
    root, _, _, _ = scene
    pipeline.coregister(root / "eo.tif", root / "sar.tif", tmp_path / "again", pipeline.CoregParams(seed=3))
    with rasterio.open(root / "out" / "offsets.tif") as a, rasterio.open(tmp_path / "again" / "offsets.tif") as b:
        assert np.array_equal(a.read(), b.read(), equal_nan=True)
    assert (root / "out" / "tiepoints.csv").read_text() == (tmp_path / "again" / "tiepoints.csv").read_text()


def test_apply_refits_from_edited_tiepoints(scene, tmp_path):
    root, result, _, _ = scene
    edited = tmp_path / "edited.gpkg"
    edited.write_bytes((root / "out" / "tiepoints.gpkg").read_bytes())
    con = sqlite3.connect(edited)
    con.execute("UPDATE tiepoints SET enabled = 0 WHERE id % 2 = 0")
    con.commit()
    enabled_inliers = con.execute("SELECT COUNT(*) FROM tiepoints WHERE enabled").fetchone()[0]
    con.close()
    applied = pipeline.apply(edited, root / "eo.tif", root / "sar.tif", tmp_path / "applied", ApplyParams(transform="tps"))
    assert applied.report.used == enabled_inliers
    assert applied.report.transform == "tps"
    # a re-fit from reviewed points has no matching confidence to write
    assert sorted(p.name for p in (tmp_path / "applied").iterdir()) == sorted(set(pipeline.OUTPUT_FILES) - {"confidence.tif"})


@pytest.mark.parametrize("suffix", [".csv", ".points"])
def test_apply_reads_csv_and_georeferencer_points(scene, tmp_path, suffix):
    root, result, _, _ = scene
    applied = pipeline.apply(root / "out" / f"tiepoints{suffix}", root / "eo.tif", root / "sar.tif", tmp_path / "a",
                             ApplyParams(transform="affine"))
    assert applied.report.used == result.report.used
    assert np.allclose(applied.tiepoints.disp[applied.tiepoints.used], result.tiepoints.disp[result.tiepoints.used],
                       atol=0.01)


@pytest.mark.parametrize("kind", ["grid", "tps", "affine", "poly1", "poly2", "poly3", "projective"])
def test_every_transform_fits_real_tiepoints(scene, tmp_path, kind):
    """Each model, fitted on the tie points matched on the real Sentinel-1/2 fixture, beats zero shift by far
    and reports finite leave-one-out residuals."""
    root, _, points, truth = scene
    applied = pipeline.apply(root / "out" / "tiepoints.gpkg", root / "eo.tif", root / "sar.tif", tmp_path / kind,
                             ApplyParams(transform=kind))
    assert applied.report.transform == kind
    assert np.isfinite(applied.report.residual_rmse_px) and applied.report.residual_rmse_px < 15
    ours = metrics.score(metrics.sample_offsets(tmp_path / kind / "offsets.tif", points), truth)
    zero = metrics.score(np.zeros_like(truth), truth)
    assert ours["mean"] < zero["mean"] / 3


def test_engine_tiepoints_carry_an_uncertainty_and_file_tiepoints_none(scene, tmp_path):
    """Each tie point the engine samples gets its calibrated typical error (EO px, the benchmark's 68th percentile
    at its evidence); the GeoPackage stores it, and tie points re-fitted from
    a CSV (no engine evidence) store NULL rather than a made-up figure."""
    root, result, _, _ = scene
    tp = result.tiepoints
    assert np.isfinite(tp.uncertainty).all() and (tp.uncertainty > 0).all()
    assert np.median(tp.uncertainty) < 5.0
    con = sqlite3.connect(root / "out" / "tiepoints.gpkg")
    stored = np.array([r[0] for r in con.execute("SELECT uncertainty FROM tiepoints ORDER BY id")], float)
    con.close()
    assert np.allclose(stored, tp.uncertainty)
    pipeline.apply(root / "out" / "tiepoints.csv", root / "eo.tif", root / "sar.tif", tmp_path / "applied")
    con = sqlite3.connect(tmp_path / "applied" / "tiepoints.gpkg")
    assert {r[0] for r in con.execute("SELECT uncertainty FROM tiepoints")} == {None}
    con.close()


def test_the_report_carries_its_schema_version_and_a_newer_one_is_refused_in_one_line(data_dir, tmp_path):
    """report.json says which schema it follows; a reader of this version refuses a newer one (a worker Python
    of a newer plugin) with one line, instead of misreading it."""
    import json

    from sar_eo_coreg.core.errors import CoregError
    from sar_eo_coreg.core.report import SCHEMA_VERSION, CoregReport

    result = pipeline.coregister(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", tmp_path / "out",
                                 pipeline.CoregParams(tiepoints_only=True, max_points=100))
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["schema_version"] == SCHEMA_VERSION == result.report.schema_version
    assert CoregReport.from_dict(written).verdict == result.report.verdict
    for newer in (SCHEMA_VERSION + 1, "2.0"):
        with pytest.raises(CoregError, match="schema version"):
            CoregReport.from_dict({**written, "schema_version": newer})
