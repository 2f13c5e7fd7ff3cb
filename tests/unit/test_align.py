"""The dense engine: descriptors, global search, robust smooth fit, and the end-to-end answers that matter
(a real 1 m pair aligns; a cluster of consistent wrong matches does not bend the field)."""

import json

import numpy as np
import pytest
import rasterio
from osgeo import ogr

from sar_eo_coreg.core import pipeline
from sar_eo_coreg.core.align import field_fit, global_search, self_check
from sar_eo_coreg.core.features import CfogDescriptor
from sar_eo_coreg.core.lattice import Lattice
from tests.conftest import AIRPORT_CROP_ORIGIN, AIRPORT_TRUTH, working_image, worse_regions

AIRPORT_SHIFT = np.array([-73.0, -14.0])  # hand-checked shift of the real airport pair (near-uniform), EO pixels


def test_lattice_samples_bilinearly_and_moves_to_the_finerworking_image():
    lattice = Lattice.over(65, 33, 16)
    xs, ys = lattice.coords()
    gx, gy = np.meshgrid(xs, ys)
    lattice.values = np.stack([0.1 * gx + 2.0, -0.05 * gy + 1.0], axis=-1)  # an affine field, level pixels
    assert np.allclose(lattice.sample(np.array([10.5]), np.array([7.25])), [[3.05, 0.6375]])
    finer = lattice.finer(16, 130, 66)
    fx, fy = finer.coords()
    px, py = np.meshgrid(fx, fy)
    coarse_x, coarse_y = (px - 0.5) / 2, (py - 0.5) / 2  # the same ground on the coarse level
    inside = (coarse_x >= xs[0]) & (coarse_x <= xs[-1]) & (coarse_y >= ys[0]) & (coarse_y <= ys[-1])
    expected = 2 * np.stack([0.1 * coarse_x + 2.0, -0.05 * coarse_y + 1.0], axis=-1)
    assert np.allclose(finer.values[inside], expected[inside])


def test_global_search_finds_a_large_cross_modal_shift_and_calls_it_reliable(data_dir):
    eo, sar = working_image(data_dir / "s1s2_eo.tif", "EO"), working_image(data_dir / "s1s2_sar.tif", "SAR")
    dx, dy = 37, -21
    shifted = np.zeros_like(sar)
    shifted[max(dy, 0):sar.shape[0] + min(dy, 0), max(dx, 0):] = sar[max(-dy, 0):sar.shape[0] - max(dy, 0), :sar.shape[1] - dx]
    found = global_search.global_init(eo, shifted, CfogDescriptor(), (80, 80))
    assert found.reliable and found.quadrants >= 3
    assert np.allclose(found.affine[:, 2], [dx, dy], atol=2.5) and np.allclose(found.affine[:, :2], 0)  # coarse: 10 m S1


def test_global_search_on_unrelated_ground_is_not_reliable(data_dir):
    eo, sar = working_image(data_dir / "s1s2_eo.tif", "EO"), working_image(data_dir / "s1s2_sar.tif", "SAR")
    found = global_search.global_init(eo[:256, :256], sar[-256:, -256:], CfogDescriptor(), (60, 60))
    assert not found.reliable


def test_a_cluster_of_consistent_wrong_matches_does_not_bend_the_field():
    """A smooth true field measured everywhere with noise, plus a 4x4 block of lattice points that agree with
    each other on a displacement 25 px off, as confident as the rest: the fit keeps the truth there and
    gives the cluster no weight."""
    rng = np.random.default_rng(1)
    ny, nx = 24, 24
    jj, ii = np.mgrid[0:ny, 0:nx].astype(float)
    truth = np.stack([3.0 + 2.0 * np.sin(ii / 7.0), -2.0 + 1.5 * np.cos(jj / 9.0)], axis=-1)
    measured = truth + rng.normal(0, 0.4, truth.shape)
    cluster = (slice(8, 12), slice(14, 18))
    measured[cluster] = truth[cluster] + np.array([25.0, -12.0]) + rng.normal(0, 0.3, (4, 4, 2))
    confidence = np.full((ny, nx), 0.3)
    field, robust, _ = field_fit.smooth_fit(measured, confidence)
    assert np.abs(field[cluster] - truth[cluster]).max() < 1.0
    assert robust[cluster].max() == 0.0
    assert np.median(np.hypot(*(field - truth).transpose(2, 0, 1))) < 0.3


@pytest.fixture(scope="module")
def airport_crop(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("airport") / "out"
    params = pipeline.CoregParams(search_radius_m=120.0)
    result = pipeline.coregister(data_dir / "airport_eo.tif", data_dir / "airport_sar.tif", out, params)
    return out, result


def test_a_real_1m_crop_aligns_to_the_hand_checked_shift_everywhere(airport_crop):
    """GF-3 spotlight / WorldView pan at ~1 m, 384 px, off by ~75 m: the field follows the hand-checked shift
    over the whole crop (no bending to wrong clusters), within 3 px at 90 % of the pixels where the calibrated
    confidence says 0.9 or more, and the report says it aligned."""
    out, result = airport_crop
    assert result.report.verdict in ("aligned", "aligned_partly")
    with rasterio.open(out / "offsets.tif") as ds, rasterio.open(out / "confidence.tif") as conf:
        dx, dy = ds.read()
        confidence = conf.read(1)
    inside = np.isfinite(dx)
    assert inside.mean() > 0.9
    deviation = np.hypot(dx - AIRPORT_SHIFT[0], dy - AIRPORT_SHIFT[1])
    assert np.median(deviation[inside]) < 2.0 and np.percentile(deviation[inside], 95) < 5.0
    confident = inside & (confidence >= 0.9)  # calibrated: P(within 3 px) >= 0.9
    assert confident.mean() > 0.02 and (deviation[confident] < 3.0).mean() >= 0.9




def test_a_real_1m_crop_meets_the_hand_truth_within_3px(airport_crop):
    out, _ = airport_crop
    with rasterio.open(out / "offsets.tif") as ds:
        dx, dy = ds.read()
    for col, row, tx, ty, _ in AIRPORT_TRUTH:
        c, r = round(col - AIRPORT_CROP_ORIGIN), round(row - AIRPORT_CROP_ORIGIN)
        assert np.hypot(dx[r, c] - tx, dy[r, c] - ty) < 3.0, (col, row, dx[r, c], dy[r, c])


def test_confidence_raster_is_on_the_eo_grid_in_0_1(airport_crop, data_dir):
    out, result = airport_crop
    with rasterio.open(out / "confidence.tif") as conf, rasterio.open(data_dir / "airport_eo.tif") as eo:
        assert (conf.width, conf.height, conf.transform, conf.crs) == (eo.width, eo.height, eo.transform, eo.crs)
        values = conf.read(1)
    finite = values[np.isfinite(values)]
    assert finite.size and finite.min() >= 0.0 and finite.max() <= 1.0 and finite.max() > 0.0
    report = json.loads((out / "report.json").read_text())
    assert report["engine"]["global"]["reliable"] and report["engine"]["self_check"]["gain_t"] > self_check.MIN_IMPROVEMENT_T


def test_tiepoints_are_sampled_from_the_field_and_agree_with_it(airport_crop):
    _, result = airport_crop
    tp = result.tiepoints
    assert len(tp) >= 12 and tp.used.sum() >= 12
    assert np.median(np.hypot(*(tp.disp[tp.used] - AIRPORT_SHIFT).T)) < 3.0


def test_a_featureless_band_is_thin_evidence_not_a_failure(data_dir, tmp_path):
    """The west 200 columns of the SAR are made featureless: the field there relaxes toward the coarser estimate
    (no region is switched to the global model for want of texture), the verdict stays 'aligned', the report
    counts the thin regions, and confidence.tif is low there."""
    blank = 200
    with rasterio.open(data_dir / "s1s2_sar.tif") as src:
        profile, sar = src.profile, src.read()
    sar[:, :, :blank] = np.median(sar)
    with rasterio.open(tmp_path / "sar.tif", "w", **profile) as dst:
        dst.write(sar)
    result = pipeline.coregister(data_dir / "s1s2_eo.tif", tmp_path / "sar.tif", tmp_path / "out", pipeline.CoregParams())
    assert result.report.verdict == "aligned"
    check = json.loads((tmp_path / "out" / "report.json").read_text())["engine"]["self_check"]
    assert check["fallback_regions"] == [] and check["regions_thin_evidence"] >= 3
    with rasterio.open(tmp_path / "out" / "confidence.tif") as conf, rasterio.open(tmp_path / "out" / "offsets.tif") as off:
        confidence, (dx, dy) = conf.read(1), off.read()
    assert np.nanmean(confidence[:, : blank - 32]) < 0.5 * np.nanmean(confidence[:, blank + 32:])
    # no wild extrapolation: the band's field stays within the range the textured part shows
    size = np.hypot(dx, dy)
    assert np.nanmax(size[:, : blank - 32]) <= np.nanmax(size[:, blank + 32:]) + 1.0


def test_the_self_check_falls_back_only_where_the_local_field_is_measurably_worse(data_dir):
    """The engine's field on the aligned fixture, corrupted by (9, -7) px in its north-west ninth: the self-check
    finds those regions measurably worse than the global model, returns the global model there and names them
    ('worse'), and keeps the local field in the far quadrant."""
    (eo, _), clean, (final, keep, stats) = worse_regions(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif")
    ny, nx = clean.shape[:2]
    bad = (slice(0, ny // 3), slice(0, nx // 3))
    assert stats["regions_fallen_back"] >= 1 and {r["reason"] for r in stats["fallback_regions"]} == {"worse"}
    for region in stats["fallback_regions"]:
        c0, r0, c1, r1 = region["working_px"]
        assert c0 < eo.shape[1] / 3 + 32 and r0 < eo.shape[0] / 3 + 32  # in the corrupted corner
    corrupted = np.hypot(9.0, -7.0)
    assert np.hypot(*(final.values[bad] - clean[bad]).transpose(2, 0, 1)).mean() < corrupted / 2
    far = (slice(ny // 2, None), slice(nx // 2, None))
    assert keep[far].min() > 0.999 and np.allclose(final.values[far], clean[far], atol=0.01)


def test_tiepoints_from_a_file_write_no_fallback_layer(data_dir, tmp_path):
    """Only the engine's self-check says where the result follows the global model: tie points that come from a
    file have no such regions, and their GeoPackage has no such layer (rather than an empty, misleading one)."""
    pipeline.coregister(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", tmp_path / "run",
                        pipeline.CoregParams(tiepoints_only=True))
    pipeline.apply(tmp_path / "run" / "tiepoints.gpkg", data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif",
                   tmp_path / "applied")
    source = ogr.Open(str(tmp_path / "applied" / "tiepoints.gpkg"))
    assert source.GetLayerByName("tiepoints").GetFeatureCount() > 0
    assert source.GetLayerByName("fallback_regions") is None


def test_block_consensus_accepts_agreeing_blocks_and_not_chance():
    """Six of nine blocks whose peaks follow one affine pattern (a shift plus a 2 % stretch, within the local warp)
    agree, enough to be reliable, and the model is that affine; nine clear but scattered peaks (the worst case of
    unrelated images) reach the number that rules out chance in fewer than 1 of 500 draws."""
    rng = np.random.default_rng(3)
    radius, tolerance = (77, 77), 2.0 + global_search.BLOCK_TOLERANCE * 512
    truth = np.array([[0.02, 0.0, 30.0], [0.0, -0.01, -12.0]])
    centres = [np.array([x, y], float) for y in (85, 256, 427) for x in (85, 256, 427)]
    peaks = [global_search.BlockPeak(c, truth[:, :2] @ c + truth[:, 2] + rng.normal(0, 0.5, 2), 6.0, 3.0)
             for c in centres[:6]]
    peaks += [global_search.BlockPeak(c, rng.uniform(-70, 70, 2), 4.0, 1.6) for c in centres[6:]]
    agreeing, model = global_search._block_consensus(peaks, tolerance)
    assert len(agreeing) == 6 >= global_search.blocks_needed(9, tolerance, radius)
    for c in centres[:6]:
        assert np.hypot(*(model[:, :2] @ c + model[:, 2] - (truth[:, :2] @ c + truth[:, 2]))) < 3.0
    chance = 0
    for seed in range(500):
        scatter = np.random.default_rng(100 + seed)
        random = [global_search.BlockPeak(c, scatter.uniform(-radius[0], radius[0], 2), 4.0, 1.6) for c in centres]
        chance += len(global_search._block_consensus(random, tolerance)[0]) >= global_search.blocks_needed(9, tolerance,
                                                                                                           radius)
    assert chance <= 1


def test_global_search_survives_a_strong_local_warp(data_dir, tmp_path):
    """The S1/S2 fixture's SAR displaced by a shift plus a strong local warp (peak 6 % of the size, nodes every
    1/4 of it): the global search still calls its model reliable and starts within the warp of the truth."""
    from sar_eo_coreg.evaluation import synthetic

    width = height = 512
    field = synthetic.RandomField.strong(width, height, seed=11, warp_fraction=0.06, spacing=(0.25, 0.25))
    synthetic.write_pair(data_dir / "s1s2_eo.tif", data_dir / "s1s2_sar.tif", tmp_path / "eo.tif", tmp_path / "sar.tif",
                         field)
    eo, sar = working_image(tmp_path / "eo.tif", "EO"), working_image(tmp_path / "sar.tif", "SAR")
    found = global_search.global_init(eo, sar, CfogDescriptor(), (80, 80))
    assert found.reliable
    ys, xs = np.mgrid[32:height:64, 32:width:64].astype(float)
    truth = field.truth(xs, ys)
    start = np.stack([found.affine[0, 0] * xs + found.affine[0, 1] * ys + found.affine[0, 2],
                      found.affine[1, 0] * xs + found.affine[1, 1] * ys + found.affine[1, 2]], axis=-1)
    assert np.median(np.hypot(*(start - truth).transpose(2, 0, 1))) < 0.06 * width


def test_confidence_is_stricter_where_the_working_grid_is_coarser_than_the_eo():
    """3 EO px are 3 / factor working pixels: the calibrated probability never grows with the factor, equals the
    3 px table on the EO grid itself and the 0.75 px table at a factor of 4."""
    from sar_eo_coreg.core.align import confidence

    evidence = np.linspace(0.0, 1.0, 101)
    table = json.loads(confidence.TABLE.read_text())
    ladder = [confidence.probability(evidence, factor) for factor in (1, 2, 3, 4, 8, 16)]
    assert np.allclose(ladder[0], np.interp(evidence, table["evidence"], table["p_within_3px"]))
    assert np.allclose(ladder[3], np.interp(evidence, table["evidence"], table["p_within"]["0.75"]))
    assert all((finer >= coarser - 1e-12).all() for finer, coarser in zip(ladder, ladder[1:]))
    assert ladder[-1].max() < ladder[0].max()


def test_a_descriptors_matchability_weights_the_lattice_evidence(data_dir):
    """A descriptor that says its west half cannot match (a learned model's matchability head) takes the west
    half's measurements out of the field fit; the east half keeps its own."""
    from sar_eo_coreg.core.align import coarse_to_fine
    from sar_eo_coreg.core.features import downsample

    class WestBlind(CfogDescriptor):
        def with_matchability(self, image, modality):
            weight = np.ones(image.shape, np.float32)
            weight[:, : image.shape[1] // 2] = 0.0
            return self(image, modality), weight

    eo, sar = working_image(data_dir / "s1s2_eo.tif", "EO"), working_image(data_dir / "s1s2_sar.tif", "SAR")
    scale = coarse_to_fine.pyramid_factors(eo.shape[1], eo.shape[0], global_search.GLOBAL_MAX_SIDE)
    results = {}
    for describe in (CfogDescriptor(), WestBlind()):
        start = global_search.global_init(downsample(eo, scale), downsample(sar, scale), describe, (40 / scale,) * 2)
        results[type(describe).__name__] = coarse_to_fine.refine(eo, sar, describe, start, scale)
    xs, _ = results["WestBlind"].field.coords()
    west, east = xs < eo.shape[1] / 2 - coarse_to_fine.HALF, xs > eo.shape[1] / 2 + coarse_to_fine.HALF
    plain, blind = results["CfogDescriptor"].confidence, results["WestBlind"].confidence
    assert plain[:, west].mean() > 0.01 and blind[:, west].max() == 0.0
    assert blind[:, east].mean() > 0.7 * plain[:, east].mean()  # the east keeps its evidence (its field may move)
