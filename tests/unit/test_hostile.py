"""Hostile inputs and faults through the CLI: every case ends in one line (exit 2) or a correct result, and the
output folder holds either what it held before or one complete new result, never a mix.

Most cases run the CLI in-process (same code path as `python -m sar_eo_coreg`); signals, kills, file-size
limits and mounts run it as a subprocess.
"""

import contextlib
import hashlib
import io
import json
import os
import pickle
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from sar_eo_coreg.cli import main
from sar_eo_coreg.core import pipeline
from sar_eo_coreg.evaluation import synthetic
from tests.conftest import REPO

# ---- helpers -------------------------------------------------------------------------------------------------


class Run:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr


def cli(*args) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code
    return Run(code, out.getvalue(), err.getvalue())


def cli_process(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sar_eo_coreg", *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, **kwargs)


def snapshot(folder: Path):
    """Every file under `folder` (hidden ones too) with its content hash; None when the folder is absent."""
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(folder.rglob("*"))}


def assert_one_line_error(run, expected: str):
    assert run.code == 2, (run.code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    assert expected.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in run.stderr + run.stdout
    return lines[0][len("error: "):]


def assert_refused(args, expected: str, watch: Path):
    """Refused with one line, plain and under --progress jsonl (as an error object), and `watch` unchanged."""
    before = snapshot(watch)
    message = assert_one_line_error(cli(*args), expected)
    assert snapshot(watch) == before
    if args[0] in ("coregister", "apply", "convert"):
        run = cli(*args, "--progress", "jsonl")
        assert assert_one_line_error(run, expected) == message
        events = [json.loads(line) for line in run.stdout.strip().splitlines()]
        assert events[-1] == {"type": "error", "message": message}
        assert snapshot(watch) == before


def assert_complete_result(out: Path):
    """The folder holds exactly the files its manifest names (plus files that are not ours), none staged."""
    report = json.loads((out / "report.json").read_text())
    ours = {p.name for p in out.iterdir() if p.name in pipeline.OUTPUT_FILES}
    assert ours == set(report["outputs"]), (ours, report["outputs"])
    assert not [p for p in out.iterdir() if p.name.startswith(".sar_eo_coreg-")]
    return report


def write_raster(path, data, transform, crs="EPSG:32631", nodata=None):
    data = data if data.ndim == 3 else data[None]
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[2], height=data.shape[1], count=data.shape[0],
                       dtype=data.dtype.name, crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(data)
    return path


def crop(src_path, dst_path, col, row, size):
    with rasterio.open(src_path) as src:
        window = Window(col, row, size, size)
        profile = {**src.profile, "width": size, "height": size, "transform": src.window_transform(window)}
        with rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(src.read(window=window))
    return dst_path


@pytest.fixture(scope="module")
def world(tmp_path_factory, data_dir):
    """A 512 px synthetic pair with a coregistration result, and 256 px crops for quick full runs."""
    root = tmp_path_factory.mktemp("hostile")
    field = synthetic.DisplacementField.random(512, 512, seed=7)
    synthetic.write_pair(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", root / "eo.tif", root / "sar.tif", field)
    result = pipeline.coregister(root / "eo.tif", root / "sar.tif", root / "result")
    assert result.report.used >= 20
    crop(root / "eo.tif", root / "eo256.tif", 128, 128, 256)
    crop(root / "sar.tif", root / "sar256.tif", 128, 128, 256)
    return root


@pytest.fixture()
def inputs(world):
    return ["--eo", world / "eo256.tif", "--sar", world / "sar256.tif"]


@pytest.fixture()
def big(world):
    return ["--eo", world / "eo.tif", "--sar", world / "sar.tif"]


def edited_gpkg(world, tmp_path, sql, *params):
    gpkg = tmp_path / "edited.gpkg"
    shutil.copyfile(world / "result" / "tiepoints.gpkg", gpkg)
    con = sqlite3.connect(gpkg)
    con.execute(sql, params)
    con.commit()
    con.close()
    return gpkg


# ---- 1. apply refuses tie points that cannot belong to the scene ---------------------------------------------
def test_apply_refuses_points_from_another_scene(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET eo_x = eo_x + 1e6, sar_x = sar_x + 1e6")
    assert_refused(["apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out"], "lie outside the EO raster",
                   tmp_path)


def test_apply_refuses_points_in_another_crs(world, big, tmp_path):
    gpkg = tmp_path / "edited.gpkg"
    shutil.copyfile(world / "result" / "tiepoints.gpkg", gpkg)
    con = sqlite3.connect(gpkg)
    con.execute("UPDATE gpkg_geometry_columns SET srs_id = 4326")
    con.commit()
    con.close()
    assert_refused(["apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out"], "EPSG:4326", tmp_path)


def test_apply_refuses_a_row_added_with_null_attributes_naming_it(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "INSERT INTO tiepoints (geom) SELECT geom FROM tiepoints LIMIT 1")
    assert_refused(["apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out"], "(no id)", tmp_path)


def test_apply_refuses_points_whose_sar_end_is_off_the_sar_raster(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET sar_x = sar_x + 50000 WHERE id IN (3, 5)")
    assert_refused(["apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out"], "2 of", tmp_path)
    assert "id 3, id 5" in cli("apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out").stderr


def test_apply_ignores_a_disabled_point_off_the_raster(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET sar_x = sar_x + 50000, enabled = 0 WHERE id = 3")
    run = cli("apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out", "--transform", "affine")
    assert run.code == 0, run.stderr
    assert_complete_result(tmp_path / "out")


def test_apply_refuses_a_points_file_in_another_crs(world, big, tmp_path):
    points = (world / "result" / "tiepoints.points").read_text().splitlines()
    points[0] = "#CRS: EPSG:4326"
    path = tmp_path / "other.points"
    path.write_text("\n".join(points) + "\n")
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "EPSG:4326", tmp_path)


# ---- 2. no false confidence at the minimum --------------------------------------------------------------------
@pytest.mark.parametrize("size", [8, 32])
def test_a_tiny_eo_is_refused_with_the_size_that_would_work(world, tmp_path, size):
    eo = crop(world / "eo.tif", tmp_path / "tiny.tif", 200, 200, size)
    assert_refused(["coregister", "--eo", eo, "--sar", world / "sar.tif", "--out", tmp_path / "out"],
                   f"overlap is too small: {size} x {size} px", tmp_path)


def test_a_tiny_sar_overlap_is_refused(world, tmp_path):
    sar = crop(world / "sar.tif", tmp_path / "tiny_sar.tif", 100, 100, 40)
    assert_refused(["coregister", "--eo", world / "eo.tif", "--sar", sar, "--out", tmp_path / "out"],
                   "at least 64 x 64 px", tmp_path)


def test_apply_with_the_minimum_points_says_rmse_not_computable(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET enabled = (id IN (2, 9, 17))")
    run = cli("apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out", "--transform", "affine")
    assert run.code == 0, run.stderr
    assert "leave-one-out RMSE not computable (3 points, minimum 4)" in run.stdout
    assert "0.00" not in run.stdout
    report = assert_complete_result(tmp_path / "out")
    assert report["residual_rmse_px"] is None


def test_apply_with_too_few_points_is_refused(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET enabled = (id IN (2, 9))")
    assert_refused(["apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out", "--transform", "affine"],
                   "needs at least 3", tmp_path)


# ---- 3. output-location faults are refused before the run ---------------------------------------------------
def test_out_below_a_file_is_refused(inputs, tmp_path):
    (tmp_path / "afile").write_text("x")
    assert_refused(["coregister", *inputs, "--out", tmp_path / "afile" / "out"], "is a file, not a folder", tmp_path)


def test_out_that_is_a_file_is_refused(inputs, tmp_path):
    (tmp_path / "afile").write_text("x")
    assert_refused(["coregister", *inputs, "--out", tmp_path / "afile"], "not a folder", tmp_path)


def test_unwritable_out_is_refused_before_the_run(inputs, tmp_path):
    assert_refused(["coregister", *inputs, "--out", "/proc/sar_eo_coreg_out"], "Cannot write to", tmp_path)


def test_read_only_out_is_refused_or_written_completely(inputs, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        run = cli("coregister", *inputs, "--out", out)
        if os.access(out, os.W_OK):  # root writes anyway: then the result must be complete
            assert run.code == 0, run.stderr
            assert_complete_result(out)
        else:
            assert_one_line_error(run, "Cannot write to")
            assert snapshot(out) == {}
    finally:
        out.chmod(0o755)


def _unshare_available():
    try:
        return subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                              capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_mounts = pytest.mark.skipif(not _unshare_available(), reason="no user namespaces to mount a tmpfs")


def _on_tmpfs(mount: Path, size: str, *args):
    mount.mkdir(exist_ok=True)
    script = f"mount -t tmpfs -o size={size} tmpfs '{mount}' && exec \"$0\" -m sar_eo_coreg \"$@\"; exit 3"
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, sys.executable, *map(str, args)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    return Run(run.returncode, run.stdout, run.stderr)


@needs_mounts
def test_a_full_disk_is_refused_before_the_run(inputs, tmp_path):
    run = _on_tmpfs(tmp_path / "disk", "64k", "coregister", *inputs, "--out", tmp_path / "disk" / "out")
    assert_one_line_error(run, "Not enough free space")


@needs_mounts
def test_out_on_its_own_file_system_is_written_completely(inputs, tmp_path):
    # the output folder is a mount point: the old engine staged beside it and failed with EXDEV
    script = (f"mount -t tmpfs -o size=64m tmpfs '{tmp_path / 'mnt'}' && \"$0\" -m sar_eo_coreg \"$@\" && "
              f"cp -r '{tmp_path / 'mnt'}' '{tmp_path / 'copy'}'")
    (tmp_path / "mnt").mkdir()
    run = subprocess.run(["unshare", "-rm", "sh", "-c", script, sys.executable, "coregister", *map(str, inputs),
                          "--out", str(tmp_path / "mnt")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert_complete_result(tmp_path / "copy")


def test_out_on_another_file_system_is_written_completely(inputs, tmp_path):
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second file system")
    out = Path("/dev/shm") / f"sar_eo_coreg_test_{os.getpid()}"
    try:
        run = cli("coregister", *inputs, "--out", out)
        assert run.code == 0, run.stderr
        assert_complete_result(out)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, resource.RLIM_INFINITY))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_a_disk_filling_during_the_write_gives_one_line_and_changes_nothing(world, inputs, tmp_path):
    out = tmp_path / "out"
    assert cli("coregister", *inputs, "--out", out, "--tiepoints-only").code == 0
    before = snapshot(out)
    run = cli_process("coregister", *inputs, "--out", out, preexec_fn=_limit_file_size)
    assert_one_line_error(Run(run.returncode, run.stdout, run.stderr), "; nothing was changed.")
    assert snapshot(out) == before


# ---- 4. malformed tie-point files -----------------------------------------------------------------------------
def _points_with(world, tmp_path, line):
    lines = (world / "result" / "tiepoints.points").read_text().splitlines()
    lines.insert(4, line)
    path = tmp_path / "edited.points"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("line, expected", [
    ("garbage", "line 5: expected mapX"),
    ("1.0,2.0,3.0", "line 5: expected mapX"),
    ("nan,2.0,3.0,4.0,1", "line 5: a coordinate is not finite"),
    ("1.0,2.0,abc,4.0,1,0,0,0", "line 5: expected mapX"),
])
def test_a_malformed_points_line_is_named(world, big, tmp_path, line, expected):
    path = _points_with(world, tmp_path, line)
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], expected, tmp_path)


def test_convert_of_a_garbage_points_file_names_the_line(world, big, tmp_path):
    path = _points_with(world, tmp_path, "x,y")
    assert_refused(["convert", "--tiepoints", path, "--to", tmp_path / "out.csv", *big], "line 5", tmp_path)


def test_a_binary_points_file_is_refused(big, tmp_path):
    path = tmp_path / "binary.points"
    path.write_bytes(bytes(range(256)) * 4)
    assert_refused(["convert", "--tiepoints", path, "--to", tmp_path / "o.csv", *big], "points", tmp_path)


def test_an_empty_points_file_is_refused(big, tmp_path):
    path = tmp_path / "empty.points"
    path.write_text("mapX,mapY,sourceX,sourceY,enable\n")
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "holds no tie points", tmp_path)


def test_a_non_numeric_csv_cell_is_named(world, big, tmp_path):
    lines = (world / "result" / "tiepoints.csv").read_text().splitlines()
    lines[3] = "abc," + lines[3].split(",", 1)[1]
    path = tmp_path / "edited.csv"
    path.write_text("\n".join(lines) + "\n")
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "line 4: column sar_row", tmp_path)


def test_a_csv_without_the_spacenet_columns_is_refused(big, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "column 'sar_row' is missing",
                   tmp_path)


def test_text_flags_in_the_gpkg_are_read(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET enabled = CASE WHEN id % 2 THEN 'true' ELSE 'false' END")
    run = cli("apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out")
    assert run.code == 0, run.stderr
    report = assert_complete_result(tmp_path / "out")
    n = len(pipeline.read_any(gpkg, *pipeline._validate_pair(world / "eo.tif", world / "sar.tif")))
    assert report["used"] == (n + 1) // 2


def test_a_bad_flag_in_the_gpkg_names_the_point(world, big, tmp_path):
    gpkg = edited_gpkg(world, tmp_path, "UPDATE tiepoints SET enabled = 'maybe' WHERE id = 4")
    assert_refused(["apply", "--tiepoints", gpkg, *big, "--out", tmp_path / "out"], "tie point id 4", tmp_path)


def test_a_gpkg_that_is_not_a_database_is_refused(big, tmp_path):
    path = tmp_path / "fake.gpkg"
    path.write_text("not sqlite")
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "Cannot read tie points", tmp_path)


def test_a_gpkg_without_tiepoints_is_refused(big, tmp_path):
    path = tmp_path / "other.gpkg"
    sqlite3.connect(path).execute("CREATE TABLE roads (fid INTEGER PRIMARY KEY)").connection.close()
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "no tiepoints layer", tmp_path)


# ---- 5. the output folder never mixes runs and never destroys an input -----------------------------------------
def test_tiepoints_only_into_an_earlier_result_leaves_no_stale_rasters(inputs, tmp_path):
    out = tmp_path / "out"
    assert cli("coregister", *inputs, "--out", out).code == 0
    (out / "aligned_sar.tif.aux.xml").write_text("<stale statistics/>")
    (out / "notes.txt").write_text("the analyst's own file")
    assert cli("coregister", *inputs, "--out", out, "--tiepoints-only").code == 0
    report = assert_complete_result(out)
    assert "aligned_sar.tif" not in report["outputs"]
    assert sorted(p.name for p in out.iterdir()) == sorted(report["outputs"] + ["notes.txt"])


@pytest.mark.parametrize("role, name", [("SAR", "aligned_sar.tif"), ("EO", "offsets.tif")])
def test_an_out_that_would_overwrite_an_input_is_refused(world, tmp_path, role, name):
    out = tmp_path / "out"
    out.mkdir()
    paths = {"EO": world / "eo256.tif", "SAR": world / "sar256.tif"}
    paths[role] = Path(shutil.copyfile(paths[role], out / name))
    assert_refused(["coregister", "--eo", paths["EO"], "--sar", paths["SAR"], "--out", out],
                   f"{role} input {paths[role]} would be overwritten", tmp_path)


def test_an_empty_out_is_refused(inputs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_refused(["coregister", *inputs, "--out", ""], "output folder is empty", tmp_path)


def test_sigterm_at_any_moment_leaves_the_old_result_or_the_new_one(world, inputs, tmp_path):
    out = tmp_path / "out"
    assert cli("coregister", *inputs, "--out", out, "--tiepoints-only").code == 0
    old = snapshot(out)
    outcomes = set()
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2):
        proc = subprocess.Popen([sys.executable, "-m", "sar_eo_coreg", "coregister", *map(str, inputs), "--out",
                                 str(out), "--progress", "jsonl"], cwd=REPO, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        for line in proc.stdout:  # wait for the write stage, then signal a little later
            if "Writing" in line:
                break
        time.sleep(delay)
        proc.terminate()
        stdout, stderr = proc.communicate(timeout=120)
        assert "Traceback" not in stderr
        if proc.returncode == 130:
            assert snapshot(out) == old, delay
            outcomes.add("cancelled")
        else:
            assert proc.returncode == 0, stderr
            assert_complete_result(out)
            outcomes.add("completed")
            shutil.rmtree(out)
            assert cli("coregister", *inputs, "--out", out, "--tiepoints-only").code == 0
            old = snapshot(out)
    assert outcomes


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_stop_signal_during_matching_leaves_nothing(inputs, tmp_path, stop):
    out = tmp_path / "a" / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sar_eo_coreg", "coregister", *map(str, inputs), "--out", str(out),
                             "--progress", "jsonl"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if "Reading SAR" in line:
            break
    proc.send_signal(stop)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and stderr.strip() == "error: Cancelled; no outputs were written.", stderr
    assert not (tmp_path / "a").exists()


COMMIT_SCRIPT = """
import os, signal, sys
from pathlib import Path
from sar_eo_coreg.core.outputs import Staging
from sar_eo_coreg.core.errors import CoregCancelledError
def cancel(signum, frame):
    raise KeyboardInterrupt
signal.signal(signal.SIGTERM, cancel)
names = [f"file{i:04d}.txt" for i in range(3000)] + ["manifest.json"]
try:
    with Staging(sys.argv[1]) as stage:
        for name in names:
            (stage.path / name).write_text("new")
        print("committing", flush=True)
        stage.commit(names, ours=names, manifest="manifest.json")
    print("late" if stage.late_cancel else "done", flush=True)
except (KeyboardInterrupt, CoregCancelledError):
    print("cancelled", flush=True)
    sys.exit(130)
"""


def test_sigterm_during_the_commit_is_held_until_the_set_is_complete(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(3000):
        (out / f"file{i:04d}.txt").write_text("old")
    (out / "manifest.json").write_text("old")
    proc = subprocess.Popen([sys.executable, "-c", COMMIT_SCRIPT, str(out)], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "committing"
    proc.terminate()
    stdout, stderr = proc.communicate(timeout=60)
    contents = {p.read_text() for p in out.iterdir() if p.is_file()}
    assert contents in ({"new"}, {"old"}), contents  # never a mix
    assert len(list(out.iterdir())) == 3001
    if contents == {"new"}:
        assert proc.returncode == 0 and stdout.strip() in ("late", "done"), stderr
    else:
        assert proc.returncode == 130


# ---- 7. leftovers ---------------------------------------------------------------------------------------------
def test_a_killed_run_leaves_a_staging_folder_that_the_next_run_removes(world, big, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sar_eo_coreg", "coregister", *map(str, big), "--out", str(out),
                             "--progress", "jsonl"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    for line in proc.stdout:
        if "Writing" in line:
            break
    proc.kill()
    proc.wait()
    assert [p.name for p in out.iterdir()] == [f".sar_eo_coreg-{proc.pid}-" + p.name.split("-", 2)[2]
                                               for p in out.iterdir()]
    assert not (out / "report.json").exists()
    assert cli("coregister", *big, "--out", out, "--tiepoints-only").code == 0
    assert_complete_result(out)


def test_a_failing_run_removes_the_folders_it_created(world, tmp_path):
    blank = write_raster(tmp_path / "blank.tif", np.zeros((256, 256), np.uint8),
                         rasterio.open(world / "sar256.tif").transform, crs=rasterio.open(world / "sar256.tif").crs,
                         nodata=0)
    assert_refused(["coregister", "--eo", world / "eo256.tif", "--sar", blank, "--out", tmp_path / "a" / "b" / "c"],
                   "no valid pixels", tmp_path)
    assert not (tmp_path / "a").exists()


# ---- 6. convert keeps what it reads -----------------------------------------------------------------------------
def _residuals_of_gpkg(path):
    con = sqlite3.connect(path)
    rows = con.execute("SELECT residual_x, residual_y, residual FROM tiepoints ORDER BY id").fetchall()
    con.close()
    return np.array(rows, float)


def test_convert_to_points_keeps_the_residuals(world, big, tmp_path):
    gpkg = world / "result" / "tiepoints.gpkg"
    assert cli("convert", "--tiepoints", gpkg, "--to", tmp_path / "t.points", *big).code == 0
    rows = [line.split(",") for line in (tmp_path / "t.points").read_text().splitlines()[2:]]
    converted = np.array([[float(r[5]), float(r[6]), float(r[7])] for r in rows])
    original = _residuals_of_gpkg(gpkg)
    assert np.abs(original).max() > 0.1
    np.testing.assert_allclose(converted, original, atol=1e-4)


def test_convert_in_place_keeps_the_residuals(world, big, tmp_path):
    gpkg = Path(shutil.copyfile(world / "result" / "tiepoints.gpkg", tmp_path / "t.gpkg"))
    original = _residuals_of_gpkg(gpkg)
    assert cli("convert", "--tiepoints", gpkg, "--to", gpkg, *big).code == 0
    np.testing.assert_allclose(_residuals_of_gpkg(gpkg), original)
    assert [p.name for p in tmp_path.iterdir()] == ["t.gpkg"]


# ---- 8. messages say what is actually wrong -----------------------------------------------------------------------
def test_a_truncated_eo_is_called_truncated(world, tmp_path):
    eo = tmp_path / "cut.tif"
    eo.write_bytes((world / "eo.tif").read_bytes()[:500])
    assert_refused(["coregister", "--eo", eo, "--sar", world / "sar.tif", "--out", tmp_path / "out"],
                   "truncated or corrupt", tmp_path)


def _complex_sar(world, tmp_path):
    with rasterio.open(world / "sar256.tif") as src:
        amplitude = src.read(1).astype(np.float32) + 1.0
        transform, crs = src.transform, src.crs
    phase = np.random.default_rng(0).uniform(-np.pi, np.pi, amplitude.shape)
    return write_raster(tmp_path / "slc.tif", (amplitude * np.exp(1j * phase)).astype(np.complex64), transform, crs)


def test_a_complex_sar_is_read_as_amplitude_and_said_so(world, tmp_path):
    sar = _complex_sar(world, tmp_path)
    run = cli("coregister", "--eo", world / "eo256.tif", "--sar", sar, "--out", tmp_path / "out")
    assert run.code == 0, run.stderr
    report = assert_complete_result(tmp_path / "out")
    assert "amplitude of the complex values" in report["sar_values"]
    with rasterio.open(tmp_path / "out" / "aligned_sar.tif") as ds:
        assert ds.dtypes[0] == "float32" and np.nanmin(ds.read(1)) >= 0


def test_a_complex_sar_with_db_scale_is_refused(world, tmp_path):
    sar = _complex_sar(world, tmp_path)
    assert_refused(["coregister", "--eo", world / "eo256.tif", "--sar", sar, "--out", tmp_path / "out",
                    "--sar-scale", "db"], "holds complex values", tmp_path)


def test_signed_integer_db_is_detected(world, tmp_path):
    with rasterio.open(world / "sar256.tif") as src:
        values = src.read(1).astype(np.float32)
        transform, crs = src.transform, src.crs
    db = np.round(10 * np.log10(np.maximum(values, 1) / 255.0) * 100).astype(np.int16)  # centi-dB, all < 0
    sar = write_raster(tmp_path / "db.tif", db, transform, crs)
    run = cli("coregister", "--eo", world / "eo256.tif", "--sar", sar, "--out", tmp_path / "out")
    assert run.code == 0, run.stderr
    assert "int16; used as they are" in assert_complete_result(tmp_path / "out")["sar_values"]


# ---- 9. bad option values are refused at parse time ------------------------------------------------------------
@pytest.mark.parametrize("option, expected", [
    (["--seed", "-1"], "--seed: must be an integer from 0"),
    (["--search-radius-m", "nan"], "--search-radius-m: must be a finite number > 0"),
    (["--search-radius-m", "-5"], "--search-radius-m: must be a finite number > 0"),
    (["--working-gsd-m", "-10"], "--working-gsd-m: must be a finite number > 0"),
    (["--working-gsd-m", "inf"], "--working-gsd-m: must be a finite number > 0"),
    (["--max-points", "0"], "--max-points: must be an integer from 1"),
    (["--max-points", "many"], "'many' is not an integer"),
    (["--template-size", "4000"], "unrecognized arguments: --template-size"),
    (["--matcher", "sift"], "invalid choice: 'sift'"),
    (["--device", "tpu"], "invalid choice: 'tpu'"),
    (["--eo-bands", "a,b"], "--eo-bands must be comma-separated band numbers"),
    (["--eo-bands", "9"], "EO band 9 does not exist"),
])
def test_bad_option_values_are_refused_with_their_range(inputs, tmp_path, option, expected):
    assert_refused(["coregister", *inputs, "--out", tmp_path / "out", *option], expected, tmp_path)


@pytest.mark.parametrize("args, expected", [
    (["train", "--model", "unet", "--out", "t", "--steps", "-1"], "--steps: must be an integer >= 1"),
    (["train", "--model", "unet", "--out", "t", "--lr", "0"], "--lr: must be a finite number > 0"),
    (["evaluate", "--samples", "0"], "--samples: must be an integer >= 1"),
    (["demo", "--out", "/proc/sar_eo_coreg_demo"], "Cannot write the demo"),
])
def test_other_subcommands_refuse_bad_values_in_one_line(tmp_path, args, expected):
    assert_refused(args, expected, tmp_path)


def test_an_empty_eo_path_is_named(world, tmp_path):
    assert_refused(["coregister", "--eo=", "--sar", world / "sar256.tif", "--out", tmp_path / "out"],
                   "No EO raster given", tmp_path)


def test_apply_lists_its_transform_choices(world, big, tmp_path):
    assert_refused(["apply", "--tiepoints", world / "result" / "tiepoints.gpkg", *big, "--out", tmp_path / "out",
                    "--transform", "spline"], "invalid choice: 'spline'", tmp_path)


@pytest.mark.parametrize("kind", ["random0", "random1", "random2", "zip_header", "pickle_of_a_list"])
def test_a_model_file_that_is_not_a_model_is_one_line(inputs, tmp_path, kind):
    content = {"zip_header": b"PK\x03\x04 not a zip", "pickle_of_a_list": pickle.dumps([1, 2, 3])}.get(kind)
    model = tmp_path / "random.json"
    model.write_bytes(content or np.random.default_rng(int(kind[-1])).bytes(4096))
    expected = "is not a model card of this plugin"
    assert_refused(["coregister", *inputs, "--out", tmp_path / "out", "--matcher", "learned", "--model", model],
                   expected, tmp_path)


def test_a_missing_model_is_one_line(inputs, tmp_path):
    assert_refused(["coregister", *inputs, "--out", tmp_path / "out", "--matcher", "learned", "--model",
                    tmp_path / "none.json"], "Model card not found", tmp_path)


def test_a_foreign_affine_in_the_sar_is_not_a_traceback(world, tmp_path):
    with rasterio.open(world / "sar256.tif") as src:
        data, crs = src.read(), src.crs
    rotated = write_raster(tmp_path / "rot.tif", data, Affine(0, 10, 0, 10, 0, 0), crs)  # axes swapped, far away
    assert_refused(["coregister", "--eo", world / "eo256.tif", "--sar", rotated, "--out", tmp_path / "out"],
                   "do not overlap", tmp_path)


def test_a_raster_without_crs_runs_with_crs_given_and_a_bad_crs_is_one_line(world, tmp_path):
    with rasterio.open(world / "eo256.tif") as src:
        data, transform, crs = src.read(), src.transform, src.crs
    bare = write_raster(tmp_path / "bare.tif", data, transform, crs=None)
    args = ["coregister", "--eo", bare, "--sar", world / "sar256.tif", "--out", tmp_path / "out"]
    assert "or give --eo-crs" in assert_one_line_error(cli(*args), "has no CRS")
    run = cli(*args, "--eo-crs", crs.to_string())
    assert run.code == 0, run.stderr
    with rasterio.open(tmp_path / "out" / "offsets.tif") as ds:
        assert ds.crs == crs
    assert_refused([*args, "--eo-crs", "EPSG:99999"], "is not a CRS", tmp_path / "out")


@pytest.mark.parametrize("name", ["tiepoints.csv", "tiepoints.points"])
def test_tie_point_files_saved_with_a_byte_order_mark_are_read(world, big, tmp_path, name):
    """Excel's "CSV UTF-8" (and some editors) start the file with a BOM: the same points, the same fit."""
    plain = world / "result" / name
    marked = tmp_path / name
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    runs = [cli("apply", "--tiepoints", path, *big, "--out", tmp_path / f"out_{k}") for k, path in enumerate((plain, marked))]
    assert [run.code for run in runs] == [0, 0], runs[1].stderr
    reports = [json.loads((tmp_path / f"out_{k}" / "report.json").read_text()) for k in range(2)]
    assert reports[0]["used"] == reports[1]["used"] and reports[0]["residual_rmse_px"] == reports[1]["residual_rmse_px"]


def test_a_progress_reader_that_closes_early_cancels_cleanly(inputs, tmp_path):
    """`--progress jsonl` into a reader that reads one line and closes: a cancel, no traceback, nothing written."""
    child = subprocess.Popen([sys.executable, "-m", "sar_eo_coreg", "coregister", *map(str, inputs), "--out",
                              str(tmp_path / "out"), "--progress", "jsonl"], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    assert json.loads(child.stdout.readline())["type"] == "progress"
    child.stdout.close()
    _, stderr = child.communicate(timeout=300)
    assert child.returncode == 130 and stderr.decode().strip() == "error: Cancelled; no outputs were written."
    assert not (tmp_path / "out").exists()


def test_a_working_gsd_finer_than_the_eo_pixel_is_refused(inputs, tmp_path):
    assert_refused(["coregister", *inputs, "--out", tmp_path / "out", "--working-gsd-m", "1e-6"],
                   "finer than the EO pixel", tmp_path)


def test_a_search_radius_beyond_the_scene_is_capped_to_it(inputs, tmp_path):
    run = cli("coregister", *inputs, "--out", tmp_path / "out", "--search-radius-m", "1e12", "--tiepoints-only")
    assert run.code == 0, run.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["search_radius_m"] <= 256 * report["working_gsd_m"]


@pytest.mark.parametrize("copies", [2, 3])
def test_apply_counts_a_repeated_point_once(world, big, tmp_path, copies):
    """Property: listing every tie point `copies` times (exactly, or moved by less than 0.1 px) gives the fit and the
    leave-one-out figures of listing it once, and the report says how many were merged."""
    lines = (world / "result" / "tiepoints.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    columns = header.split(",")
    rng = np.random.default_rng(copies)
    repeated = []
    for row in rows:
        repeated.append(row)
        for _ in range(copies - 1):
            values = row.split(",")
            for name in ("optical_col", "sar_row"):
                k = columns.index(name)
                values[k] = f"{float(values[k]) + rng.uniform(-0.04, 0.04):.4f}"
            repeated.append(",".join(values))
    (tmp_path / "repeated.csv").write_text("\n".join([header, *repeated]) + "\n")
    once = cli("apply", "--tiepoints", world / "result" / "tiepoints.csv", *big, "--out", tmp_path / "once")
    many = cli("apply", "--tiepoints", tmp_path / "repeated.csv", *big, "--out", tmp_path / "many")
    assert once.code == many.code == 0, many.stderr
    first, second = (json.loads((tmp_path / name / "report.json").read_text()) for name in ("once", "many"))
    assert second["used"] == first["used"] and second["duplicates"] == first["used"] * (copies - 1)
    assert second["residual_rmse_px"] == pytest.approx(first["residual_rmse_px"], abs=0.05)
    assert f"{first['used'] * (copies - 1)} duplicates merged" in many.stdout


def test_one_point_copied_many_times_is_one_point(world, big, tmp_path):
    row = (world / "result" / "tiepoints.csv").read_text().splitlines()[:2]
    (tmp_path / "one.csv").write_text("\n".join([row[0]] + [row[1]] * 40) + "\n")
    assert_refused(["apply", "--tiepoints", tmp_path / "one.csv", *big, "--out", tmp_path / "out", "--transform",
                    "projective"], "too few tie points", tmp_path / "out")


# ---- the commit cannot half-happen: every destination kind, every name length, a fault at any move -------------

DESTINATION_KINDS = {
    "folder": lambda path: path.mkdir(),
    "folder with files": lambda path: (path.mkdir(), (path / "keep.txt").write_text("analyst's notes")),
    "pipe": lambda path: os.mkfifo(path),
}
OUTPUT_NAMES = list(pipeline.OUTPUT_FILES) + ["offsets.tif.aux.xml"]


@pytest.mark.parametrize("name, kind", [(name, "folder") for name in OUTPUT_NAMES] +
                         [("offsets.tif", kind) for kind in sorted(DESTINATION_KINDS) if kind != "folder"])
def test_an_entry_of_another_kind_where_an_output_goes_is_refused_before_the_run(inputs, tmp_path, kind, name):
    """Any output name (side files included), any kind of entry that a file cannot replace: one line naming it,
    before any work, and the folder as it was (an earlier result included)."""
    out = tmp_path / "out"
    assert cli("coregister", *inputs, "--out", out, "--tiepoints-only").code == 0
    if os.path.lexists(out / name):
        (out / name).unlink()
    DESTINATION_KINDS[kind](out / name)
    assert_refused(["coregister", *inputs, "--out", out], f"'{name}' where an output file goes", tmp_path)


def test_a_link_where_an_output_goes_is_replaced_and_what_it_pointed_to_is_kept(inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "keep.txt").write_text("analyst's notes")
    (out / "offsets.tif").symlink_to(tmp_path / "elsewhere")
    assert cli("coregister", *inputs, "--out", out).code == 0
    assert assert_complete_result(out) and (out / "offsets.tif").is_file()
    assert (tmp_path / "elsewhere" / "keep.txt").read_text() == "analyst's notes"


@pytest.mark.parametrize("length", [200, 255, 256, 300, 1000])
def test_output_names_of_any_length_are_written_or_refused_in_one_line(world, big, inputs, tmp_path, length):
    """Generated names up to and beyond what the file system allows, for the output folder and for a converted
    tie-point file: written, or one line that says the name is too long; never a traceback."""
    stem = ("é" * length)[: length // 2] + "a" * (length - length // 2)  # multi-byte characters count as bytes
    folder = tmp_path / stem
    run = cli("coregister", *inputs, "--out", folder, "--tiepoints-only")
    fits = len(stem.encode()) <= 255 - 0
    if run.code == 0:
        assert fits and assert_complete_result(folder)
    else:
        assert_one_line_error(run, "longer than this file system allows")
        assert not fits and not os.path.lexists(folder)
    target = tmp_path / f"{stem}.points"
    run = cli("convert", "--tiepoints", world / "result" / "tiepoints.gpkg", "--to", target, *big)
    if run.code == 0:
        assert len(target.name.encode()) <= 255 and target.stat().st_size > 0
    else:
        assert_one_line_error(run, "longer than this file system allows")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".sar_eo_coreg-")]


@pytest.mark.parametrize("failing_move", [1, 3, 6, 9, 12])
def test_a_fault_at_any_move_of_the_commit_puts_the_earlier_result_back(inputs, tmp_path, monkeypatch, failing_move):
    """The n-th rename of the commit fails (as a vanished disk or a foreign lock would make it): one line, and
    the folder holds the earlier result, byte for byte."""
    from sar_eo_coreg.core import outputs

    out = tmp_path / "out"
    assert cli("coregister", *inputs, "--out", out).code == 0
    before = {k: v for k, v in snapshot(out).items()}
    real_replace, calls = os.replace, []

    def replace(src, dst):
        calls.append((src, dst))
        if len(calls) == failing_move:
            raise OSError(5, "Input/output error")
        return real_replace(src, dst)

    monkeypatch.setattr(outputs.os, "replace", replace)
    run = cli("coregister", *inputs, "--out", out, "--max-points", "300")
    monkeypatch.setattr(outputs.os, "replace", real_replace)
    assert_one_line_error(run, "nothing was changed")
    assert len(calls) >= failing_move
    assert snapshot(out) == before


# ---- masks: alpha bands, nodata values and internal masks are honoured ----------------------------------------------

def _with_a_decoy_stripe(world, tmp_path, mask: str):
    """The world's EO with its left 160 columns replaced by its own content 25 px away (ground that matches the
    SAR at a false shift), hidden by `mask`: "alpha" (an RGBA EO), "nodata" (a nodata value), "internal" (a
    GDAL internal mask band), or "none" (shown)."""
    with rasterio.open(world / "eo.tif") as src:
        rgb, profile = src.read(), src.profile
    decoy = rgb.copy()
    decoy[:, :, :160] = rgb[:, :, 25:185]
    hidden = np.zeros(rgb.shape[1:], bool)
    hidden[:, :160] = True
    path = tmp_path / f"eo_{mask}.tif"
    profile.update(driver="GTiff", tiled=True, compress="deflate")
    if mask == "alpha":
        alpha = np.where(hidden, 0, 255).astype(rgb.dtype)[None]
        with rasterio.open(path, "w", **{**profile, "count": 4}, photometric="RGB", alpha="YES") as dst:
            dst.write(np.concatenate([decoy, alpha]))
    elif mask == "nodata":
        decoy[:, hidden] = 0
        decoy[:, ~hidden] = np.maximum(decoy[:, ~hidden], 1)
        with rasterio.open(path, "w", **{**profile, "nodata": 0}) as dst:
            dst.write(decoy)
    else:
        with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(path, "w", **{**profile, "nodata": None}) as dst:
            dst.write(decoy)
            if mask == "internal":
                dst.write_mask(np.where(hidden, 0, 255).astype(np.uint8))
    return path


@pytest.mark.parametrize("mask", ["alpha", "nodata", "internal"])
def test_pixels_an_input_masks_take_no_part_in_the_match(world, tmp_path, mask):
    """Tie points where the EO is masked would come from the decoy (they do when the same pixels are shown); with
    the mask honoured there are none, and the offsets there follow the rest of the scene."""
    def run(kind):
        eo = _with_a_decoy_stripe(world, tmp_path, kind)
        out = tmp_path / kind
        assert cli("coregister", "--eo", eo, "--sar", world / "sar.tif", "--out", out).code == 0
        report = json.loads((out / "report.json").read_text())
        with rasterio.open(out / "offsets.tif") as src:
            offsets = src.read()
        import csv

        with open(out / "tiepoints.csv") as fh:
            cols = [float(row["optical_col"]) for row in csv.DictReader(fh)]
        return report, offsets, np.array(cols)

    shown, shown_offsets, shown_cols = run("none")
    hidden, hidden_offsets, hidden_cols = run(mask)
    assert (shown_cols < 140).sum() >= 5  # the decoy attracts matches where it is shown ...
    assert (hidden_cols < 160 - 8).sum() == 0  # ... and none where the input masks it
    assert hidden["verdict"] != "not_aligned"
    stripe, rest = np.s_[:, 64:448, 20:140], np.s_[:, 64:448, 200:320]
    reference = np.median(hidden_offsets[rest], axis=(1, 2))
    drift = np.median(np.abs(hidden_offsets[stripe] - reference[:, None, None]))
    decoyed = np.median(np.abs(shown_offsets[stripe] - reference[:, None, None]))
    assert drift < decoyed


@pytest.mark.parametrize("keep", [0.02, 0.3, 0.7])
def test_a_sar_truncated_while_the_outputs_are_written_is_named(world, tmp_path, keep):
    """The SAR loses its tail (a copy still running, a disk fault) once matching is done: the message names the
    SAR and says it changed under the run, not the output folder's permissions; the folder keeps its result."""
    sar = tmp_path / "sar.tif"
    shutil.copyfile(world / "sar.tif", sar)
    out = tmp_path / "out"
    assert pipeline.coregister(world / "eo.tif", sar, out).report.verdict != "not_aligned"
    before = snapshot(out)

    def progress(fraction, message):  # the last step before the outputs are written
        if message.startswith("Self-check") and sar.stat().st_size > 1000:
            data = sar.read_bytes()
            sar.write_bytes(data[: int(len(data) * keep)])

    with pytest.raises(pipeline.CoregError) as caught:
        pipeline.coregister(world / "eo.tif", sar, out, progress=progress)
    message = str(caught.value)
    assert str(sar) in message and "changed during the run" in message and "permissions" not in message
    assert snapshot(out) == before


def _sar_variant(world, tmp_path, kind):
    """The world's SAR as `kind`: "gcps" (georeferenced by 9 GCPs, no geotransform), "2 bands" (a second,
    unrelated band), "gcps, 2 bands"."""
    with rasterio.open(world / "sar.tif") as src:
        data, transform, crs, profile = src.read(), src.transform, src.crs, src.profile
    if "2 bands" in kind:
        data = np.concatenate([data, np.full_like(data, 7)])
    profile.update(count=data.shape[0])
    path = tmp_path / f"sar_{kind.replace(', ', '_').replace(' ', '')}.tif"
    if "gcps" in kind:
        from rasterio.control import GroundControlPoint

        h, w = data.shape[1:]
        gcps = [GroundControlPoint(row=r, col=c, x=(transform * (c, r))[0], y=(transform * (c, r))[1])
                for r in (0, h / 2, h) for c in (0, w / 2, w)]
        profile.pop("transform")
        profile.pop("crs")
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
            dst.gcps = (gcps, crs)
    else:
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data)
    return path


@pytest.mark.parametrize("kind", ["gcps", "2 bands", "gcps, 2 bands"])
def test_a_sar_read_in_a_way_nobody_would_guess_is_used_and_said_so(world, tmp_path, kind):
    """GCPs without a geotransform are used (not "give --sar-crs", not "no overlap"); extra bands are ignored and
    the note says which band was matched; the offsets equal the plain SAR's."""
    sar = _sar_variant(world, tmp_path, kind)
    run = cli("coregister", "--eo", world / "eo.tif", "--sar", sar, "--out", tmp_path / "out")
    assert run.code == 0, run.stderr
    notes = [line for line in run.stdout.splitlines() if line.startswith("note: ")]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["notes"] == [n[len("note: "):] for n in notes]
    assert any("9 GCPs" in n for n in notes) == ("gcps" in kind)
    assert any("band 1 of 2 matched" in n for n in notes) == ("2 bands" in kind)
    with rasterio.open(tmp_path / "out" / "offsets.tif") as got, rasterio.open(world / "result" / "offsets.tif") as ref:
        assert np.nanmedian(np.abs(got.read() - ref.read())) < 0.05


def test_points_from_a_csv_carry_no_invented_residuals_and_read_back(world, big, tmp_path):
    """A SpaceNet 9 CSV has no residuals: the .points written from it leaves them empty (a 0 would claim a perfect
    fit), and that file reads back to the same points (.points has no scores: those are not compared)."""
    csv_path = tmp_path / "t.csv"
    assert cli("convert", "--tiepoints", world / "result" / "tiepoints.gpkg", "--to", csv_path, *big).code == 0
    assert cli("convert", "--tiepoints", csv_path, "--to", tmp_path / "t.points", *big).code == 0
    rows = [line.split(",") for line in (tmp_path / "t.points").read_text().splitlines()[2:]]
    assert rows and all(r[5:8] == ["", "", ""] for r in rows)
    assert cli("convert", "--tiepoints", tmp_path / "t.points", "--to", tmp_path / "back.csv", *big).code == 0
    def positions(path):
        return [line.split(",")[:4] for line in path.read_text().splitlines() if not line.startswith("#")]

    assert positions(tmp_path / "back.csv") == positions(csv_path)


@pytest.mark.parametrize("seed", range(5))
def test_duplicating_any_subset_of_points_never_lowers_the_rmse(world, big, tmp_path, seed):
    """Property: any subset of the tie points, each listed again (exactly or within 0.1 px), any transform: the
    reported leave-one-out RMSE is never lower than with each point once."""
    lines = (world / "result" / "tiepoints.csv").read_text().splitlines()
    header, rows = lines[0], lines[1:]
    rng = np.random.default_rng(seed)
    subset = rng.random(len(rows)) < rng.uniform(0.1, 0.9)
    columns = header.split(",")
    extra = []
    for row in np.array(rows)[subset]:
        values = row.split(",")
        k = columns.index("optical_row")
        values[k] = f"{float(values[k]) + rng.uniform(-0.09, 0.09):.4f}"
        extra.append(",".join(values))
    shuffled = rows + extra
    rng.shuffle(shuffled)
    (tmp_path / "more.csv").write_text("\n".join([header, *shuffled]) + "\n")
    transform = ["auto", "tps", "affine", "poly2", "grid"][seed]
    reports = []
    for name, path in (("once", world / "result" / "tiepoints.csv"), ("more", tmp_path / "more.csv")):
        run = cli("apply", "--tiepoints", path, *big, "--out", tmp_path / name, "--transform", transform)
        assert run.code == 0, run.stderr
        reports.append(json.loads((tmp_path / name / "report.json").read_text()))
    assert reports[1]["residual_rmse_px"] >= reports[0]["residual_rmse_px"] - 0.02
    inlier = np.array([row.split(",")[columns.index("inlier")] in ("1", "true", "True") for row in rows])
    assert reports[1]["duplicates"] == int((subset & inlier).sum())  # repeats of used points


def _points_file(world, path, count, seed=0):
    """`count` tie points spread over the world's EO (a real shift plus 1 px of noise), in the file's format."""
    from sar_eo_coreg.core.raster import open_info
    from sar_eo_coreg.core.tiepoints import TiePoints, write_csv, write_gpkg, write_points

    eo, sar = open_info(world / "eo.tif", "EO"), open_info(world / "sar.tif", "SAR")
    rng = np.random.default_rng(seed)
    eo_px = rng.uniform(20, 490, (count, 2))
    disp = np.array([3.0, -2.0]) + rng.normal(0, 1, (count, 2))
    tp = TiePoints(eo_px, disp, np.ones(count), np.ones(count, bool))
    {".csv": write_csv, ".points": write_points}.get(path.suffix, lambda p, t, e, s: write_gpkg(p, t, e))(path, tp, eo, sar)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".points", ".gpkg"])
def test_a_tie_point_file_above_the_maximum_is_refused_with_its_count(world, big, tmp_path, monkeypatch, suffix):
    from sar_eo_coreg.core import tiepoints

    monkeypatch.setattr(tiepoints, "MAX_TIEPOINTS", 300)
    path = _points_file(world, tmp_path / f"many{suffix}", 301)
    assert_refused(["apply", "--tiepoints", path, *big, "--out", tmp_path / "out"], "holds 301 tie points, more than "
                   "the 300", tmp_path / "out")
    assert cli("apply", "--tiepoints", _points_file(world, tmp_path / f"ok{suffix}", 300), *big, "--out",
               tmp_path / "ok").code == 0


@pytest.mark.parametrize("transform, cap", [("tps", 1000), ("projective", 400)])
def test_a_transform_is_fitted_to_an_even_subset_when_points_exceed_what_it_needs(world, big, tmp_path, transform,
                                                                                cap):
    """3000 points: the slow leave-one-out transforms fit an even subset (the report says how many) and hold the
    others out, so the time stays bounded; the residuals cover every point."""
    path = _points_file(world, tmp_path / "many.csv", 3000)
    start = time.monotonic()
    run = cli("apply", "--tiepoints", path, *big, "--out", tmp_path / "out", "--transform", transform)
    assert run.code == 0, run.stderr
    assert time.monotonic() - start < 120
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["fitted_points"] is not None and report["fitted_points"] <= cap < report["used"]
    assert f"fitted to {report['fitted_points']}" in run.stdout
    assert 0.8 < report["residual_rmse_px"] < 2.5  # the points' 1 px noise each way: about 1.4 px


@pytest.mark.parametrize("size", [128, 256, 384])
def test_a_small_scene_that_does_not_align_is_told_what_would_help(world, tmp_path, size):
    """Unrelated ground in a small crop: NOT aligned (honest), and the message says a larger crop would help."""
    eo = crop(world / "eo.tif", tmp_path / "eo.tif", 0, 0, size)
    sar = crop(world / "sar.tif", tmp_path / "sar_far.tif", 512 - size, 512 - size, size)
    with rasterio.open(sar, "r+") as ds, rasterio.open(eo) as ref:
        ds.transform = ref.transform  # other ground, claiming the EO's place
    run = cli("coregister", "--eo", eo, "--sar", sar, "--out", tmp_path / "out")
    assert run.code == 0 and "NOT ALIGNED" in run.stderr
    assert f"small ({size} x {size} px" in run.stderr and "larger crop" in run.stderr
