"""Cut the small test fixtures from ../shared/data (run once; the outputs are committed).

Usage: python tests/data/make_fixtures.py [SHARED_DATA_DIR]
"""

import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window, from_bounds

HERE = Path(__file__).parent
CROPS = {
    # name: (source file relative to shared data, column offset, row offset, size)
    "s1s2_eo.tif": ("aligned/s1s2_volkov/003/eo.tif", 256, 256, 512),
    "s1s2_sar.tif": ("aligned/s1s2_volkov/003/sar.tif", 256, 256, 512),
    "umbra_rotated.tif": ("real/umbra_mount_yasur.tif", 600, 600, 256),
    "airport_eo.tif": ("real/worldview_pan_airport_eo.tif", 300, 300, 384),
}
# the SAR crop covers the EO crop's ground plus this margin (metres), so the ~75 m misregistration fits
AIRPORT_SAR = ("real/gf3_spotlight_airport_sar.tif", "airport_sar.tif", "airport_eo.tif", 120.0)


def crop(src_path: Path, dst_path: Path, col: int, row: int, size: int, height: int = None) -> None:
    with rasterio.open(src_path) as src:
        window = Window(col, row, size, height or size)
        profile = src.profile.copy()
        profile.update(
            driver="GTiff", width=size, height=height or size, transform=src.window_transform(window),
            compress="deflate", tiled=False, blockxsize=None, blockysize=None, photometric=None,
        )
        profile.pop("blockxsize"), profile.pop("blockysize"), profile.pop("photometric")
        with rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(src.read(window=window))


def crop_around(src_path: Path, dst_path: Path, reference: Path, margin_m: float) -> None:
    """Crop src to the reference raster's bounds plus a margin (both geographic: degrees from metres)."""
    with rasterio.open(reference) as ref, rasterio.open(src_path) as src:
        margin = margin_m / 111_320.0
        left, bottom, right, top = ref.bounds
        window = from_bounds(left - margin, bottom - margin, right + margin, top + margin, src.transform)
        window = window.round_offsets().round_lengths()
    crop(src_path, dst_path, int(window.col_off), int(window.row_off), int(window.width), int(window.height))


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data"
    for name, (rel, col, row, size) in CROPS.items():
        crop(shared / rel, HERE / name, col, row, size)
        print(f"wrote {name}")
    rel, name, reference, margin = AIRPORT_SAR
    crop_around(shared / rel, HERE / name, HERE / reference, margin)
    print(f"wrote {name}")


if __name__ == "__main__":
    main()
