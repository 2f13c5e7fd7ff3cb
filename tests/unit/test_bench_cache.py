"""bench/accuracy.py reuses per-scene results only while they still describe the same scene: a pair that
changed (the airport-derived pair is rewritten when its truth changes) rebuilds its scene and re-runs."""

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import accuracy  # noqa: E402


def test_a_changed_pair_rebuilds_its_scene_and_invalidates_cached_results(data_dir, tmp_path):
    for name in ("s1s2_eo.tif", "s1s2_sar.tif"):
        shutil.copy(data_dir / name, tmp_path / name)
    row = {"source": "fixture", "id": "1", "eo": str(tmp_path / "s1s2_eo.tif"), "sar": str(tmp_path / "s1s2_sar.tif"),
           "width": "512", "height": "512", "gsd_m": "10"}
    windows = np.zeros((0, 6))
    scene, *_ = accuracy.build_scene(row, 0, tmp_path / "work", "random")
    first = accuracy.scene_version(scene, windows)
    scene, *_ = accuracy.build_scene(row, 0, tmp_path / "work", "random")
    assert accuracy.scene_version(scene, windows) == first  # nothing changed: the cache holds

    now = time.time()
    os.utime(scene / "sar.tif", (now - 100, now - 100))  # the scene was built ...
    os.utime(tmp_path / "s1s2_sar.tif", (now - 50, now - 50))  # ... and the pair written again since
    stale = accuracy.scene_version(scene, windows)
    scene, *_ = accuracy.build_scene(row, 0, tmp_path / "work", "random")
    assert (scene / "sar.tif").stat().st_mtime > now - 50  # rebuilt
    assert accuracy.scene_version(scene, windows) not in (first, stale)

    remeasured = np.array([[100.0, 100.0, 1.5, -0.5, 0.2, 2.0]])
    assert accuracy.scene_version(scene, remeasured) != accuracy.scene_version(scene, windows)
