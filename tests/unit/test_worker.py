"""The worker client used by the dock and Processing: events, the engine's one-line errors, cancel."""

import sys
import time

import pytest

from sar_eo_coreg.bridge.worker import WorkerCancelledError, WorkerError, WorkerRun, engine_command


def engine(*args):
    return engine_command(sys.executable, [*map(str, args), "--progress", "jsonl"])


def test_a_run_yields_progress_and_returns_the_result(data_dir, tmp_path):
    run = WorkerRun(engine("coregister", "--eo", data_dir / "s1s2_eo.tif", "--sar", data_dir / "s1s2_sar.tif",
                           "--out", tmp_path / "out", "--max-points", 100, "--tiepoints-only"))
    events = []
    result = run.run(events.append)
    fractions = [e["fraction"] for e in events if e["type"] == "progress"]
    assert fractions == sorted(fractions) and fractions[-1] > 0.5
    assert result["report"]["tiepoints"] > 10
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.json", "tiepoints.csv", "tiepoints.gpkg", "tiepoints.points"]


def test_engine_error_is_the_one_line_message(data_dir, tmp_path):
    eo = data_dir / "s1s2_eo.tif"
    with pytest.raises(WorkerError, match="same file") as caught:
        WorkerRun(engine("coregister", "--eo", eo, "--sar", eo, "--out", tmp_path / "o")).run()
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def test_a_crash_is_reported_with_the_last_line_of_stderr():
    with pytest.raises(WorkerError, match="exit code 3.*boom"):
        WorkerRun([sys.executable, "-c", "import sys; sys.stderr.write('boom\\n'); sys.exit(3)"]).run()


def test_missing_interpreter_says_where_to_set_it(tmp_path):
    with pytest.raises(WorkerError, match="SAR_EO_COREG_PYTHON"):
        WorkerRun(engine_command(str(tmp_path / "no-python"), ["env"])).run()


def test_cancel_is_quick_and_removes_a_hard_killed_workers_leftovers(tmp_path):
    stubborn = (  # ignores SIGTERM and leaves a staging folder, like an engine stuck in native code
        "import os, signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        f"os.makedirs(os.path.join({str(tmp_path)!r}, '.sar_eo_coreg-%d-x' % os.getpid()))\n"
        "print('{\"type\": \"progress\", \"fraction\": 0.1, \"message\": \"working\"}', flush=True)\n"
        "time.sleep(60)\n")
    (tmp_path / ".sar_eo_coreg-1-other").mkdir()  # another run's: not ours to remove
    run = WorkerRun([sys.executable, "-c", stubborn], output=str(tmp_path))
    seen = []
    started = time.monotonic()
    with pytest.raises(WorkerCancelledError):
        for event in run.events(lambda: bool(seen)):
            seen.append(event)
    assert time.monotonic() - started < 5
    assert run.process.poll() is not None
    assert [p.name for p in tmp_path.iterdir()] == [".sar_eo_coreg-1-other"]
