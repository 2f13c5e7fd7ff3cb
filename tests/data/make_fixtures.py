"""Cut the small test fixtures from ../shared/data (run once; the outputs are committed).

Usage: python tests/data/make_fixtures.py [SHARED_DATA_DIR]
"""

import sys
from pathlib import Path

import rasterio
from rasterio.windows import Window

HERE = Path(__file__).parent
CROPS = {
    # name: (source file relative to shared data, column offset, row offset, size)
    "s1s2_eo.tif": ("aligned/s1s2_volkov/003/eo.tif", 256, 256, 512),
    "s1s2_sar.tif": ("aligned/s1s2_volkov/003/sar.tif", 256, 256, 512),
    "umbra_rotated.tif": ("real/umbra_mount_yasur.tif", 600, 600, 256),
    "airport_sar.tif": ("real/gf3_spotlight_airport_sar.tif", 500, 500, 256),
    "airport_eo.tif": ("real/worldview_pan_airport_eo.tif", 400, 400, 256),
}


def crop(src_path: Path, dst_path: Path, col: int, row: int, size: int) -> None:
    with rasterio.open(src_path) as src:
        window = Window(col, row, size, size)
        profile = src.profile.copy()
        profile.update(
            driver="GTiff", width=size, height=size, transform=src.window_transform(window),
            compress="deflate", tiled=False, blockxsize=None, blockysize=None, photometric=None,
        )
        profile.pop("blockxsize"), profile.pop("blockysize"), profile.pop("photometric")
        with rasterio.open(dst_path, "w", **profile) as dst:
            dst.write(src.read(window=window))


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data"
    for name, (rel, col, row, size) in CROPS.items():
        crop(shared / rel, HERE / name, col, row, size)
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
