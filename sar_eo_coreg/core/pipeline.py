"""The one pipeline behind the CLI, the dock and the Processing algorithms.

coregister(): validate -> read both rasters onto the working grid -> the dense engine (core.dense: global
search, coarse-to-fine field with confidence, robust smooth fit, self-check) -> outputs. apply(): re-fit from an
edited tie-point file and rewrite the outputs.
Outputs go to a temporary folder next to the target and are moved into place only when complete.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Tuple

import numpy as np

from .choices import Transform
from .environment import installed_version
from .errors import CoregError
from .outputs import (
    ALIGNED_FILE,
    CONFIDENCE_FILE,
    MANIFEST,
    OFFSETS_FILE,
    OUTPUT_FILES,
    TIEPOINTS_CSV,
    TIEPOINTS_GPKG,
    TIEPOINTS_POINTS,
    Staging,
    check_destination,
)
from .progress import ProgressTracker
from .raster import (
    DisplaySource,
    Grid,
    RasterInfo,
    eo_grid,
    eo_radiometry,
    open_info,
    sar_radiometry,
)
from .report import CoregReport
from .request import ApplyParams, CoregParams
from .tiepoints import RESIDUAL_DECIMALS, TiePoints, merge_duplicates, read_any, write_csv, write_gpkg, write_points
from .transforms import FieldModel, ZeroModel, fit_with_residuals, loo_note, rmse
from .version import __version__
from .warp import aligned_dtype, write_aligned_outputs

DEFAULT_RADIUS_FRACTION = 0.15  # automatic search radius: this share of the overlap's larger side
MIN_OVERLAP_PX = 64  # common ground the engine needs, working pixels a side
FIELD_MAX_SIDE = 2048  # the dense field is computed on a working grid at most this large (it is smooth)


@dataclass
class CoregResult:
    """A finished run: its folder, its report and its tie points."""
    out_dir: str
    report: CoregReport
    tiepoints: TiePoints = field(repr=False)
    late_cancel: bool = False  # a cancel came while the finished outputs were committed; they were kept


def _overlap(eo: RasterInfo, sar: RasterInfo) -> Tuple[float, float]:
    """Width and height of the common ground, EO CRS units (<= 0 when the rasters do not overlap)."""
    ex0, ey0, ex1, ey1 = eo.bounds_in(eo.crs)
    sx0, sy0, sx1, sy1 = sar.bounds_in(eo.crs)
    return min(ex1, sx1) - max(ex0, sx0), min(ey1, sy1) - max(ey0, sy0)


def _validate_pair(eo_path, sar_path, eo_crs=None, sar_crs=None) -> Tuple[RasterInfo, RasterInfo]:
    eo = open_info(eo_path, "EO", eo_crs)
    sar = open_info(sar_path, "SAR", sar_crs)
    if os.path.realpath(eo.path) == os.path.realpath(sar.path):
        raise CoregError("The EO and SAR inputs are the same file. Give the optical image as --eo and the radar as --sar.")
    if min(_overlap(eo, sar)) <= 0:
        raise CoregError(
            "The EO and SAR rasters do not overlap (checked in the EO CRS). Check that both georeferences "
            "are right and that they cover the same area."
        )
    return eo, sar


def _check_overlap_size(eo: RasterInfo, sar: RasterInfo, factor: int) -> None:
    """The engine needs MIN_OVERLAP_PX working pixels a side of common ground (its windows are 33 px)."""
    step = eo.pixel_size * factor  # a working pixel, EO CRS units
    width, height = (side / step for side in _overlap(eo, sar))
    if min(width, height) < MIN_OVERLAP_PX:
        gsd = eo.pixel_size_m * factor
        raise CoregError(
            f"The EO and SAR overlap is too small: {width:.0f} x {height:.0f} px at the working resolution "
            f"({gsd:.3g} m); the engine needs at least {MIN_OVERLAP_PX} x {MIN_OVERLAP_PX} px "
            f"({MIN_OVERLAP_PX * gsd:.0f} m a side). Give larger rasters, or a finer --working-gsd-m.")


def _needed_bytes(eo: RasterInfo, sar: RasterInfo, rasters: bool, n_points: int) -> int:
    """Room the outputs need: the rasters' uncompressed size (an upper bound), tie-point files ~1 kB a point."""
    needed = (1 << 20) + 1024 * n_points
    if rasters:
        needed += eo.width * eo.height * (4 * 3 + sar.count * aligned_dtype(sar).itemsize)
    return needed


def _versions() -> dict:
    import cv2
    import rasterio
    import scipy

    versions = {"sar_eo_coreg": __version__, "python": platform.python_version(), "numpy": np.__version__,
                "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__, "opencv": cv2.__version__,
                "scipy": scipy.__version__}
    optional = {name: installed_version(name) for name in ("onnxruntime", "onnxruntime-gpu", "torch")}
    return {**versions, **{name: version for name, version in optional.items() if version}}


def file_digest(path: str) -> str:
    """A cheap fingerprint of an input: sha256 of its first MiB and its size (not a full-file hash)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
    h.update(str(os.path.getsize(path)).encode())
    return h.hexdigest()[:16]


def _fit_final(tp: TiePoints, kind: str, eo: RasterInfo, reviewed: bool = False):
    """(model, leave-one-out residuals (N, 2), EO px) of the transform fitted to the used tie points."""
    n_used = int(tp.used.sum())
    chosen = Transform.parse(kind).fitted_to(n_used)
    chosen.require(n_used, "" if reviewed else "Check that the rasters show the same area, or try a larger "
                   "--search-radius-m.")
    extent = (0.0, 0.0, float(eo.width - 1), float(eo.height - 1))
    return fit_with_residuals(chosen, tp.eo_px, tp.disp, tp.used, extent)


def _engine_model(tp: TiePoints, kind: str, eo: RasterInfo, alignment):
    """(model, residuals of the tie points): the model that writes the offsets is the dense field (auto), a model
    fitted to the tie points (any other transform), or zero shift when the engine could not align. The residuals
    are leave-one-out where a fit is possible, else the points' distance to the field."""
    if alignment.verdict == "not_aligned":
        return ZeroModel(), tp.residual
    if kind != "auto":
        return _fit_final(tp, kind, eo)
    field = FieldModel(alignment.field)
    n_used = int(tp.used.sum())
    if n_used >= Transform.AUTO.fitted_to(n_used).min_points:
        return field, _fit_final(tp, "auto", eo)[1]
    return field, tp.disp - field.predict(tp.eo_px)


def _located(regions: list, grid: Grid, factor: int) -> list:
    """The self-check's fallback regions (boxes in working pixels, `working_px`) located on the EO grid: `eo_px`
    [col0, row0, col1, row1] (pixel edges) and `bounds` [xmin, ymin, xmax, ymax] in the EO CRS, for the report (it
    says where, not only how many)."""
    located = []
    for region in regions:
        c0, r0, c1, r1 = region["working_px"]
        xs, ys = grid.transform * (np.array([c0, c1, c1, c0]), np.array([r0, r0, r1, r1]))
        located.append({**{k: v for k, v in region.items() if k != "working_px"},
                        "eo_px": [round(v * factor, 1) for v in (c0, r0, c1, r1)],
                        "bounds": [float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())]})
    return located


def _write_all(tmp: Path, model, tp: TiePoints, eo, sar, resampling, tracker: ProgressTracker, rasters: bool = True,
               confidence=None, fallback_regions=None):
    write_gpkg(tmp / TIEPOINTS_GPKG, tp, eo, fallback_regions)
    write_csv(tmp / TIEPOINTS_CSV, tp, eo, sar)
    write_points(tmp / TIEPOINTS_POINTS, tp, eo, sar)
    if rasters:
        write_aligned_outputs(model, eo, sar, tmp / OFFSETS_FILE, tmp / ALIGNED_FILE, resampling,
                              progress=tracker, cancel=tracker.check, confidence=confidence,
                              confidence_path=tmp / CONFIDENCE_FILE)


def _input_notes(eo: RasterInfo, sar: RasterInfo, sar_rad) -> list:
    """How the inputs were read, where the analyst could not guess it."""
    notes = []
    if sar.count > len(sar_rad.bands):
        notes.append(f"SAR: band {sar_rad.bands[0]} of {sar.count} matched, the others ignored (to match another, "
                     "extract it first: gdal_translate -b N).")
    for role, info in (("EO", eo), ("SAR", sar)):
        if info.georeference != "geotransform":
            notes.append(f"{role}: no geotransform; georeferenced by an {info.georeference}.")
    return notes


def _fit_figures(tp: TiePoints, model) -> dict:
    """The report's tie-point and residual fields."""
    used = tp.used
    loo = tp.residual_norm[used]
    computable = bool(used.any()) and bool(np.isfinite(loo).all())
    fitted = model.fitted_points
    return {"tiepoints": len(tp), "inliers": int(tp.inlier.sum()), "used": int(used.sum()), "transform": model.kind,
            "fitted_points": fitted if fitted is not None and fitted < int(used.sum()) else None,
            "residual_rmse_px": round(rmse(tp.residual[used]), RESIDUAL_DECIMALS) if computable else None,
            "residual_median_px": round(float(np.median(loo)), RESIDUAL_DECIMALS) if computable else None,
            "residual_note": None if computable else loo_note(int(used.sum()), model.kind)}


def _output_names(rasters: bool, confidence: bool = True):
    skip = set() if rasters else {OFFSETS_FILE, ALIGNED_FILE, CONFIDENCE_FILE}
    if not confidence:
        skip.add(CONFIDENCE_FILE)
    return [name for name in OUTPUT_FILES if name not in skip]


def _finish(stage: Staging, report: CoregReport) -> CoregReport:
    """Write the manifest (report.json, naming the run's files) and commit the set."""
    (stage.path / MANIFEST).write_text(json.dumps(report.to_dict(), indent=2, default=_json_default))
    stage.commit(report.outputs, ours=OUTPUT_FILES, manifest=MANIFEST)
    return report


def coregister(eo_path, sar_path, out_dir, params: Optional[CoregParams] = None, progress=None, cancelled=None,
               descriptors: Optional[Callable] = None) -> CoregResult:
    """Coregister the SAR to the EO into `out_dir`. `descriptors(params)` makes the descriptor the request asks
    for: the engine's CFOG when None; the front ends pass `models.descriptor.descriptor_for` (learned too)."""
    params = params or CoregParams()
    params.validate()
    tracker = ProgressTracker(progress, cancelled)
    eo, sar = _validate_pair(eo_path, sar_path, params.eo_crs, params.sar_crs)
    out = check_destination(out_dir, {"EO": eo.path, "SAR": sar.path}, OUTPUT_FILES)
    needed = _needed_bytes(eo, sar, not params.tiepoints_only, params.max_points)
    with Staging(out, needed) as stage:  # made now: a folder that cannot take the result is refused before the run
        done, tp = _coregister(eo, sar, params, descriptors, tracker, stage)
    return CoregResult(str(out), done, tp, stage.late_cancel)


def _read_pair(eo: RasterInfo, sar: RasterInfo, eo_rad, sar_rad, params: CoregParams, tracker: ProgressTracker):
    """Both rasters on the working grid (the EO grid, decimated to the working GSD and to at most
    FIELD_MAX_SIDE pixels): (EO image, SAR image, grid, decimation factor, the refinement source or None).
    When FIELD_MAX_SIDE made the working grid coarser than the working GSD, the field is refined at that GSD."""
    gsd = params.working_gsd_m or max(eo.pixel_size_m, sar.pixel_size_m)
    if gsd < 0.5 * eo.pixel_size_m:
        raise CoregError(f"--working-gsd-m {gsd:g} is finer than the EO pixel ({eo.pixel_size_m:.3g} m): the engine "
                         f"matches on the EO grid or coarser. Give at least {eo.pixel_size_m:.3g}, or leave it out.")
    own = max(1, int(round(gsd / eo.pixel_size_m)))
    factor = max(own, int(np.ceil(max(eo.width, eo.height) / FIELD_MAX_SIDE))) if params.working_gsd_m is None else own
    grid = eo_grid(eo).decimated(factor)
    _check_overlap_size(eo, sar, factor)
    eo_source, sar_source = DisplaySource(eo, eo_rad, "EO"), DisplaySource(sar, sar_rad, "SAR")
    tracker.stage(0.0, 0.2)(0.0, "Reading EO")
    eo_img = eo_source.read(grid, tracker.check)
    tracker(0.5, "Reading SAR")
    sar_img = sar_source.read(grid, tracker.check)
    if not ((sar_img > 0) & (eo_img > 0)).any():
        raise CoregError("The EO and SAR rasters have no valid pixels in common (all nodata over the overlap).")
    from .align.native import MIN_FACTOR, NativeSource

    native = None
    if factor >= MIN_FACTOR * own:
        fine = eo_grid(eo).decimated(own)
        native = NativeSource(fine, own, eo_source.read, lambda qx, qy: sar_source.under(fine, qx, qy))
    return eo_img, sar_img, grid, factor, native


def _coregister(eo: RasterInfo, sar: RasterInfo, params: CoregParams, descriptors, tracker: ProgressTracker, stage: Staging):
    timings = {}
    clock = time.perf_counter()
    eo_rad, sar_rad = eo_radiometry(eo, params.eo_bands), sar_radiometry(sar, params.sar_scale)
    eo_img, sar_img, grid, factor, native = _read_pair(eo, sar, eo_rad, sar_rad, params, tracker)
    timings["read_s"] = time.perf_counter() - clock

    from .align import align
    from .align.native import refine_at_pixel
    from .features import structural_descriptor

    clock = time.perf_counter()
    describe = (descriptors or structural_descriptor)(params)
    gsd_work = eo.pixel_size_m * factor
    scene_m = max(grid.width, grid.height) * gsd_work
    radius_m = min(params.search_radius_m or DEFAULT_RADIUS_FRACTION * scene_m, scene_m)  # no shift beyond the scene
    alignment = align(eo_img, sar_img, describe, radius_m / gsd_work, params.max_points, tracker.stage(0.2, 0.6),
                      eo_per_working=factor)
    del eo_img, sar_img
    check = alignment.log.get("self_check", {})
    if "fallback_regions" in check:  # the engine's log says where in its working grid; the report says where on the EO
        check["fallback_regions"] = _located(check["fallback_regions"], grid, factor)
    alignment = alignment.scaled(factor)  # EO pixels from here on
    if native is not None and alignment.verdict != "not_aligned":
        alignment = refine_at_pixel(alignment, native, describe, factor, params.max_points, tracker.stage(0.6, 0.7))
    found = alignment.tiepoints
    tp = TiePoints(found["eo_px"], found["disp"], found["score"], found["inlier"], uncertainty=found["uncertainty"])
    timings["match_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    model, tp.residual = _engine_model(tp, params.transform, eo, alignment)
    confidence = alignment.confidence
    timings["fit_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    with stage.writing():
        _write_all(stage.path, model, tp, eo, sar, params.resampling, tracker.stage(0.7, 1.0), not params.tiepoints_only,
                   confidence, alignment.log.get("self_check", {}).get("fallback_regions"))
    timings["write_s"] = time.perf_counter() - clock
    timings["total_s"] = sum(timings.values())
    done = CoregReport(
        command="coregister", eo=os.path.abspath(eo.path), sar=os.path.abspath(sar.path),
        eo_digest=file_digest(eo.path), sar_digest=file_digest(sar.path),
        parameters=asdict(params), working_gsd_m=gsd_work, working_grid=[grid.width, grid.height],
        search_radius_m=radius_m, descriptor=describe.name, device=describe.device,
        model_hash=describe.sha256, model_file=describe.weights_path, sar_values=sar_rad.describe(sar),
        notes=_input_notes(eo, sar, sar_rad),
        verdict=alignment.verdict, message=alignment.message,
        confidence_mean=round(float(alignment.confidence.values.mean()), 4),
        engine=alignment.log, **_fit_figures(tp, model), timings_s=timings,
        versions=_versions(), outputs=_output_names(not params.tiepoints_only))
    return _finish(stage, done), tp


def apply(tiepoints_path, eo_path, sar_path, out_dir, params: Optional[ApplyParams] = None, progress=None,
          cancelled=None) -> CoregResult:
    """Re-fit from an edited tie-point file (only enabled points) and rewrite all outputs but confidence.tif."""
    params = params or ApplyParams()
    params.validate()
    tracker = ProgressTracker(progress, cancelled)
    eo, sar = _validate_pair(eo_path, sar_path, params.eo_crs, params.sar_crs)
    tp = read_any(tiepoints_path, eo, sar)
    out = check_destination(out_dir, {"EO": eo.path, "SAR": sar.path}, OUTPUT_FILES)
    tp.inlier = tp.enabled.copy()  # in a reviewed file, enabled is the analyst's verdict
    duplicates = merge_duplicates(tp)
    model, tp.residual = _fit_final(tp, params.transform, eo, reviewed=True)
    with Staging(out, _needed_bytes(eo, sar, True, len(tp))) as stage:
        clock = time.perf_counter()
        with stage.writing():
            _write_all(stage.path, model, tp, eo, sar, params.resampling, tracker.stage(0.0, 1.0))
        done = _finish(stage, CoregReport(
            command="apply", tiepoints_file=os.path.abspath(os.fspath(tiepoints_path)),
            eo=os.path.abspath(eo.path), sar=os.path.abspath(sar.path),
            parameters=asdict(params),
            **_fit_figures(tp, model), duplicates=duplicates,
            timings_s={"write_s": time.perf_counter() - clock}, versions=_versions(),
            outputs=_output_names(True, confidence=False)))
    return CoregResult(str(out), done, tp, stage.late_cancel)


def _json_default(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def convert_tiepoints(src_path, dst_path, eo_path, sar_path, eo_crs=None, sar_crs=None) -> int:
    """Rewrite a tie-point file as .gpkg, .csv (SpaceNet 9) or .points (QGIS Georeferencer), chosen by extension."""
    eo, sar = _validate_pair(eo_path, sar_path, eo_crs, sar_crs)
    writers = {".gpkg": lambda p: write_gpkg(p, tp, eo), ".csv": lambda p: write_csv(p, tp, eo, sar),
               ".points": lambda p: write_points(p, tp, eo, sar)}
    if not str(dst_path).strip():
        raise CoregError("The output tie-point file is empty. Give a .gpkg, .csv or .points path.")
    dst = Path(os.path.abspath(os.fspath(dst_path)))
    if dst.suffix.lower() not in writers:
        raise CoregError(f"Unknown tie-point file type '{dst.suffix}'. Write a .gpkg, .csv or .points file.")
    tp = read_any(src_path, eo, sar)
    check_destination(dst.parent, {"EO": eo.path, "SAR": sar.path}, [dst.name], what="folder of the tie-point file")
    with Staging(dst.parent, _needed_bytes(eo, sar, False, len(tp))) as stage:
        with stage.writing():
            writers[dst.suffix.lower()](stage.path / dst.name)
        stage.commit([dst.name])
    return len(tp)
