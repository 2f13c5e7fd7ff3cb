"""Batch coregistration on a real Dask LocalCluster of 2 worker processes, on small real pairs: a bad pair gives
its error row and the others complete; each pair's folder holds what `coregister` writes for it; a re-run skips
finished pairs; a worker killed mid-pair gives the pair completed on retry with its folder complete; the
manifest's mistakes are one line."""

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
import rasterio

from tests.conftest import REPO


def shifted_sar(data_dir, path, metres=(30.0, -20.0)):
    """The S1/S2 fixture's SAR georeferenced 30 m east and 20 m south of the truth: a pair with a known shift."""
    with rasterio.open(data_dir / "s1s2_sar.tif") as src:
        profile = src.profile
        a = src.transform
        profile["transform"] = a.__class__(a.a, a.b, a.c + metres[0], a.d, a.e, a.f + metres[1])
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(src.read())
    return path


@pytest.fixture(scope="module")
def manifest(data_dir, tmp_path_factory):
    """4 pairs: the S1/S2 fixture, the same shifted, the real airport crop (its own search radius), and a SAR
    that does not exist."""
    folder = tmp_path_factory.mktemp("batch_inputs")
    shifted_sar(data_dir, folder / "s1s2_sar_shifted.tif")
    path = folder / "pairs.csv"
    path.write_text("eo,sar,name,search_radius_m\n"
                    f"{data_dir / 's1s2_eo.tif'},{data_dir / 's1s2_sar.tif'},s1s2,\n"
                    f"{data_dir / 's1s2_eo.tif'},s1s2_sar_shifted.tif,s1s2 shifted,\n"
                    f"{data_dir / 'airport_eo.tif'},{data_dir / 'airport_sar.tif'},airport,120\n"
                    f"{data_dir / 's1s2_eo.tif'},no_such_sar.tif,missing,\n")
    return path


def batch(*args):
    return subprocess.run([sys.executable, "-m", "sar_eo_coreg", "batch", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def rows_of(out):
    with open(out / "batch.csv", newline="") as handle:
        return {row["pair"]: row for row in csv.DictReader(handle)}


def features(gpkg, table):
    with sqlite3.connect(gpkg) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY fid").fetchall()


@pytest.fixture(scope="module")
def first_run(manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch") / "out"
    return out, batch("--manifest", manifest, "--out", out, "--workers", 2, "--progress", "none")


def test_a_bad_pair_gives_its_row_and_the_others_complete(first_run):
    out, result = first_run
    assert result.returncode == 101, result.stderr  # 100 + one failed pair
    assert "Traceback" not in result.stderr
    assert "error: missing: SAR file not found" in result.stderr
    assert "4 pairs: 3 done, 1 failed" in result.stdout
    rows = rows_of(out)
    assert list(rows) == ["s1s2", "s1s2_shifted", "airport", "missing"]  # the manifest's order; names made safe
    for name in ("s1s2", "s1s2_shifted", "airport"):
        row = rows[name]
        assert row["status"] == "done" and row["verdict"] in ("aligned", "aligned_partly") and not row["error"]
        assert float(row["seconds"]) > 0 and 0 < float(row["confidence"]) <= 1 and float(row["worker_peak_mb"]) > 50
        report = json.loads((out / name / "report.json").read_text())
        assert all((out / name / f).is_file() for f in report["outputs"])
        assert not [p for p in (out / name).iterdir() if p.name.startswith(".")]  # no staging left
    assert json.loads((out / "airport" / "report.json").read_text())["parameters"]["search_radius_m"] == 120.0
    assert rows["missing"]["status"] == "failed" and "no_such_sar.tif" in rows["missing"]["error"]
    assert not (out / "missing").exists()
    shapes = {row[2]: row[1] for row in features(out / "batch.gpkg", "pairs")}  # pair -> geometry
    assert set(shapes) == set(rows) and shapes["missing"] is None and shapes["s1s2"] is not None
    with sqlite3.connect(out / "batch.gpkg") as con:
        (qml,) = con.execute("SELECT styleQML FROM layer_styles WHERE f_table_name = 'pairs' AND useAsDefault").fetchone()
    assert 'type="categorizedSymbol"' in qml


def test_each_pair_is_what_coregister_writes(first_run, manifest, data_dir, tmp_path):
    """Same bytes for every raster and tie-point file, the same report but for the timings, the same features."""
    out, _ = first_run
    single = tmp_path / "single"
    subprocess.run([sys.executable, "-m", "sar_eo_coreg", "coregister", "--eo", data_dir / "airport_eo.tif",
                    "--sar", data_dir / "airport_sar.tif", "--search-radius-m", "120", "--out", single,
                    "--progress", "none"], cwd=REPO, check=True, capture_output=True, timeout=600)
    batch_dir = out / "airport"
    assert sorted(p.name for p in batch_dir.iterdir()) == sorted(p.name for p in single.iterdir())
    for name in ("aligned_sar.tif", "offsets.tif", "confidence.tif", "tiepoints.csv", "tiepoints.points"):
        assert (batch_dir / name).read_bytes() == (single / name).read_bytes(), name
    ours, theirs = (json.loads((d / "report.json").read_text()) for d in (batch_dir, single))
    ours.pop("timings_s"), theirs.pop("timings_s")
    assert ours == theirs
    for table in ("tiepoints", "links", "fallback_regions"):
        assert features(batch_dir / "tiepoints.gpkg", table) == features(single / "tiepoints.gpkg", table)


def test_a_rerun_skips_finished_pairs_and_retries_the_failed_one(first_run, manifest):
    out, _ = first_run
    before = {name: (out / name / "report.json").stat().st_mtime_ns for name in ("s1s2", "s1s2_shifted", "airport")}
    result = batch("--manifest", manifest, "--out", out, "--workers", 2, "--progress", "none")
    assert result.returncode == 101 and "3 skipped, 1 failed" in result.stdout
    rows = rows_of(out)
    assert [rows[n]["status"] for n in before] == ["skipped"] * 3 and rows["missing"]["status"] == "failed"
    assert rows["airport"]["verdict"] and rows["airport"]["rmse_px"]  # the figures come from the result there
    assert before == {name: (out / name / "report.json").stat().st_mtime_ns for name in before}
    # another option for a pair is another result, and so is an input changed since: those pairs run again
    changed = manifest.with_name("changed.csv")
    changed.write_text(manifest.read_text().replace(",s1s2,\n", ",s1s2,300\n", 1))
    os.utime(manifest.with_name("s1s2_sar_shifted.tif"))  # rewritten (its first MiB and size may not change)
    result = batch("--manifest", changed, "--out", out, "--workers", 2, "--progress", "none")
    rows = rows_of(out)
    assert [rows[n]["status"] for n in ("s1s2", "s1s2_shifted", "airport")] == ["done", "done", "skipped"]


def test_a_killed_worker_s_pair_completes_on_retry(data_dir, tmp_path):
    from sar_eo_coreg.batch.manifest import Pair
    from sar_eo_coreg.batch.run import run_batch
    from sar_eo_coreg.core.request import CoregParams

    pairs = [Pair("victim", str(data_dir / "airport_eo.tif"), str(data_dir / "airport_sar.tif"),
                  CoregParams(search_radius_m=120.0)),
             Pair("other", str(data_dir / "s1s2_eo.tif"), str(data_dir / "s1s2_sar.tif"), CoregParams())]
    starts, killed = [], []

    def on_event(event):
        if event["type"] != "pair_progress" or event["pair"] != "victim":
            return
        if event["message"] == "started":
            starts.append(event["pid"])
        elif event["fraction"] >= 0.1 and not killed:
            killed.append(event["pid"])
            os.kill(event["pid"], signal.SIGKILL)

    result = run_batch(pairs, str(tmp_path / "out"), workers=2, on_event=on_event)
    rows = {row.pair: row for row in result.rows}
    assert killed and len(starts) >= 2 and starts[-1] != killed[0]  # killed once, run again by another process
    assert rows["victim"].status == "done" and rows["other"].status == "done" and result.failed == 0
    folder = tmp_path / "out" / "victim"
    report = json.loads((folder / "report.json").read_text())
    assert sorted(p.name for p in folder.iterdir()) == sorted(set(report["outputs"]) | {"report.json"})  # no stage


def test_manifest_mistakes_are_one_line(tmp_path, data_dir):
    cases = {
        "eo,sar,colour\na.tif,b.tif,red\n": "unknown column 'colour'",
        "eo,sar,max_points\na.tif,b.tif,many\n": "line 2: argument --max-points: 'many' is not an integer",
        "eo,name\na.tif,x\n": "no 'sar' column",
        "eo,sar\n": "lists no pairs",
    }
    for text, expected in cases.items():
        path = tmp_path / "m.csv"
        path.write_text(text)
        result = batch("--manifest", path, "--out", tmp_path / "out")
        assert result.returncode == 2 and expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, \
            result.stderr
    result = batch("--eo", data_dir / "s1s2_eo.tif", "--sar", str(tmp_path / "nothing" / "*.tif"), "--out", tmp_path / "o")
    assert result.returncode == 2 and "No SAR file matches" in result.stderr
    result = batch("--out", tmp_path / "o")
    assert result.returncode == 2 and "either --manifest" in result.stderr


def test_cancel_stops_scheduling_and_keeps_finished_pairs(data_dir, tmp_path):
    """Cancel (SIGTERM, as the plugin sends; Ctrl-C does the same) after the first pair: it stays complete, the
    running one stops cleanly, the rest are not run, and no folder holds a partial result."""
    manifest = tmp_path / "pairs.csv"
    manifest.write_text("eo,sar,name\n" + "".join(f"{data_dir / 's1s2_eo.tif'},{data_dir / 's1s2_sar.tif'},p{i}\n"
                                                  for i in range(4)))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "sar_eo_coreg", "batch", "--manifest", manifest, "--out", out,
                             "--workers", "1", "--progress", "jsonl"], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:
        if json.loads(line)["type"] == "pair":
            proc.send_signal(signal.SIGTERM)
            break
    rest, errors = proc.communicate(timeout=120)
    assert proc.returncode == 130, errors[-2000:]
    assert json.loads(rest.strip().splitlines()[-1])["report"]["cancelled"] is True
    rows = rows_of(out)
    assert rows["p0"]["status"] == "done" and {rows[f"p{i}"]["status"] for i in (1, 2, 3)} == {"cancelled"}
    assert sorted(p.name for p in out.iterdir()) == ["batch.csv", "batch.gpkg", "batch.json", "p0"]


def test_manifest_rows_names_and_cells(tmp_path):
    """Blank rows skipped with true line numbers; an extra cell, a bad yes/no, are one line; names never clash
    with each other (whatever the sanitiser makes of them) nor with the batch's own files."""
    from sar_eo_coreg.batch.manifest import read_manifest
    from sar_eo_coreg.cli import options_request
    from sar_eo_coreg.core.errors import CoregError

    path = tmp_path / "m.csv"
    path.write_text("eo,sar,name,tiepoints_only\n,,,\na.tif,b.tif,site 1,\na.tif,c.tif,site/1,yes\n"
                    "a.tif,d.tif,site_1_2,\na.tif,e.tif,batch.csv,\na.tif,f.tif,NUL,\n\na.tif,~/g.tif,,no\n")
    pairs = read_manifest(str(path), [], options_request)
    names = [p.name for p in pairs]
    assert len(set(n.lower() for n in names)) == len(names) == 6
    assert names[:3] == ["site_1", "site_1_2", "site_1_2_2"] and names[3:5] == ["batch.csv_pair", "NUL_pair"]
    assert pairs[1].params.tiepoints_only and not pairs[0].params.tiepoints_only
    assert pairs[0].eo == str(tmp_path / "a.tif") and pairs[5].sar == os.path.expanduser("~/g.tif")
    for text, expected in {"eo,sar\n\na.tif,b.tif,extra\n": "line 3: more cells than columns",
                           "eo,sar,tiepoints_only\na.tif,b.tif,maybe\n": "line 2: tiepoints_only must be yes or no",
                           "eo,sar\n\n\na.tif,\n": "line 4: the eo and sar cells"}.items():
        path.write_text(text)
        with pytest.raises(CoregError, match=expected):
            read_manifest(str(path), [], options_request)
