"""The residual report: every point in the table with its residuals, what has none left empty, the map with one
mark per point, and a file written whole or not at all."""

import numpy as np
import pytest

from sar_eo_coreg.core.residual_report import ResidualTable, residual_colour, residual_report_html, write_residual_report


def table(n=6):
    rng = np.random.default_rng(3)
    px = rng.uniform(0, 500, (n, 2))
    residual = rng.normal(0, 1.5, (n, 2))
    residual[0] = np.nan  # too few neighbours for this one
    enabled = np.ones(n, bool)
    enabled[1] = False
    suspect = np.zeros(n, bool)
    suspect[2] = True
    xy = px * [10.0, -10.0] + [500000.0, 4000000.0]
    return ResidualTable(np.arange(1, n + 1), enabled, px, xy, xy + 30.0, np.full((n, 2), 3.0), residual, suspect)


def test_the_page_lists_each_point_and_marks_it_on_the_map():
    t = table()
    page = residual_report_html(t, "Residual report: <run>", "Transform affine: RMSE 1.23 px", {"EO": "a & b.tif"},
                                (500, 400))
    assert "&lt;run&gt;" in page and "a &amp; b.tif" in page  # escaped
    assert page.count("<tr") == 1 + 1 + len(t.ids)  # the info row, the header, one per point
    assert page.count("<circle") + page.count("<path") == len(t.ids)
    assert page.count("<line") == int((t.enabled & np.isfinite(t.residual[:, 0])).sum())
    norm = np.hypot(*t.residual[3])
    assert f"<td>{norm:.2f}</td></tr>" in page
    assert "<td>4</td><td>yes</td><td></td>" in page and '<tr style="color:#888"><td>2</td><td>no</td>' in page
    assert "<td>1</td><td>yes</td><td></td>" in page and "<td></td><td></td><td></td></tr>" in page  # NaN: empty


def test_classes_and_an_atomic_write(tmp_path):
    assert residual_colour(0.5) == "#1a9641" and residual_colour(7.0) == "#d7191c"
    path = tmp_path / "r.html"
    write_residual_report(str(path), "<html></html>")
    assert path.read_text() == "<html></html>" and not list(tmp_path.glob("*.partial"))
    with pytest.raises(OSError, match="does not exist"):
        write_residual_report(str(tmp_path / "missing" / "r.html"), "x")
