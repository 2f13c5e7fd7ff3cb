"""The point chip viewer: for the selected tie point, the EO around its EO end and the input SAR around its SAR
end, side by side, each with a cross on the match. Where the match is right both crosses sit on the same ground.
The two views are linked: the mouse wheel (or − / +) zooms both alike, from 1/4 to 8 screen pixels per EO pixel.
A click in the SAR chip moves the SAR end there (as the Vertex tool would). *Add point*: click a feature in the EO
chip, then the same ground in the SAR chip: a new tie point links them. Coordinates can also be typed, in the
tie-point layers' CRS, as in the Georeferencer's "Enter map coordinates"."""

from __future__ import annotations

import math
from typing import Callable, Optional, Tuple

import numpy as np
from qgis.core import QgsMapRendererCustomPainterJob, QgsMapSettings, QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtCore import QPoint, QSize, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from qgis.PyQt.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

CHIP_PX = 160  # screen pixels a chip side
ZOOMS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # screen pixels per EO pixel


def render_chip(layer: QgsRasterLayer, centre: Tuple[float, float], pixel: Tuple[float, float], crs,
                zoom: float = 1.0) -> QImage:
    """`layer` around `centre` (map coordinates of `crs`), CHIP_PX / `zoom` EO pixels (`pixel`: width, height in
    map units) a side, stretched to its own 2-98 % grey levels, with a cross at the centre."""
    half_w, half_h = CHIP_PX * pixel[0] / (2.0 * zoom), CHIP_PX * pixel[1] / (2.0 * zoom)
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(crs)
    settings.setOutputSize(QSize(CHIP_PX, CHIP_PX))
    settings.setExtent(QgsRectangle(centre[0] - half_w, centre[1] - half_h, centre[0] + half_w, centre[1] + half_h))
    settings.setBackgroundColor(QColor("#000000"))
    image = QImage(CHIP_PX, CHIP_PX, QImage.Format_ARGB32_Premultiplied)
    image.fill(QColor("#000000"))
    painter = QPainter(image)
    job = QgsMapRendererCustomPainterJob(settings, painter)
    job.start()
    job.waitForFinished()
    painter.end()
    image = _stretched(image)
    painter = QPainter(image)
    painter.setPen(QPen(QColor("#ffeb3b"), 1))
    c = CHIP_PX // 2
    for a, b in (((c - 12, c), (c - 3, c)), ((c + 3, c), (c + 12, c)), ((c, c - 12), (c, c - 3)), ((c, c + 3), (c, c + 12))):
        painter.drawLine(QPoint(*a), QPoint(*b))
    painter.end()
    return image


def _stretched(image: QImage) -> QImage:
    """Grey levels stretched between the chip's own 2nd and 98th percentiles: dark SAR chips become readable."""
    grey = image.convertToFormat(QImage.Format_Grayscale8)
    data = np.frombuffer(grey.constBits().asstring(grey.sizeInBytes()), np.uint8)
    data = data.reshape(grey.height(), grey.bytesPerLine())[:, :grey.width()].astype(np.float32)
    lo, hi = np.percentile(data, [2.0, 98.0])
    stretched = np.ascontiguousarray(np.clip((data - lo) * (255.0 / max(hi - lo, 1.0)), 0, 255).astype(np.uint8))
    out = QImage(stretched.data, stretched.shape[1], stretched.shape[0], stretched.shape[1], QImage.Format_Grayscale8)
    return out.convertToFormat(QImage.Format_ARGB32_Premultiplied)  # a copy: independent of the numpy buffer


class _Chip(QLabel):
    clicked = pyqtSignal(int, int)  # screen pixel offset from the centre (right, down)
    wheeled = pyqtSignal(int)  # +1 zoom in, -1 zoom out

    def mousePressEvent(self, event):  # noqa: N802 (Qt's name)
        self.clicked.emit(event.pos().x() - CHIP_PX // 2, event.pos().y() - CHIP_PX // 2)

    def wheelEvent(self, event):  # noqa: N802 (Qt's name)
        step = event.angleDelta().y()
        if step:
            self.wheeled.emit(1 if step > 0 else -1)
        event.accept()


def _coordinate_box(parent, tip: str) -> QLineEdit:
    box = QLineEdit(parent)
    box.setToolTip(tip)
    box.setMinimumWidth(60)
    return box


class ChipViewer(QWidget):
    """EO | SAR chips of one tie point, zoomed together, and its two ends as typed coordinates.
    `move_ends(point_id, eo_xy, sar_xy)` is called on a click in the SAR chip or *Set*; `add_point(eo_xy, sar_xy)`
    on *Add point* or *Add*."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.eo_chip, self.sar_chip = _Chip(self), _Chip(self)
        for chip, tip in ((self.eo_chip, "EO around the tie point's EO end. Wheel: zoom both views"),
                          (self.sar_chip, "Input SAR around the tie point's SAR end: click where the EO's ground is "
                                          "to move the SAR end there. Wheel: zoom both views")):
            chip.setFixedSize(CHIP_PX, CHIP_PX)
            chip.setToolTip(self.tr(tip))
            chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            chip.wheeled.connect(self.zoom_by)
        self.caption = QLabel(self.tr("Select a tie point to see its EO and SAR chips."), self)
        self.caption.setWordWrap(True)
        self.add_button = QPushButton(self.tr("Add point"), self)
        self.add_button.setCheckable(True)
        self.add_button.setToolTip(self.tr("Click a feature in the EO chip, then the same ground in the SAR chip."))
        self.add_button.toggled.connect(self._adding)
        self.zoom_out, self.zoom_in = QPushButton("−", self), QPushButton("+", self)
        for button, step, tip in ((self.zoom_out, -1, "Zoom both views out"), (self.zoom_in, 1, "Zoom both views in")):
            button.setFixedWidth(28)
            button.setToolTip(self.tr(tip))
            button.clicked.connect(lambda _=False, s=step: self.zoom_by(s))
        zoom_column = QVBoxLayout()
        zoom_column.addWidget(self.zoom_in)
        zoom_column.addWidget(self.zoom_out)
        zoom_column.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.eo_chip)
        row.addWidget(self.sar_chip)
        row.addLayout(zoom_column)
        row.addStretch(1)
        top = QHBoxLayout()  # the button beside the caption: the chips alone fill a 420-px panel
        top.addWidget(self.caption, 1)
        top.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(row)
        layout.addLayout(self._build_coordinates())
        self.sar_chip.clicked.connect(self._sar_clicked)
        self.eo_chip.clicked.connect(self._eo_clicked)
        self.point: Optional[Tuple[int, Tuple[float, float], Tuple[float, float]]] = None  # id, EO end, SAR end
        self.zoom = 1.0  # screen pixels per EO pixel, both views
        self.pixel = (1.0, 1.0)  # an EO pixel's width and height, map units
        self._view = None  # (EO layer, SAR layer, CRS, displacement) of the point shown
        self.new_eo: Optional[Tuple[float, float]] = None  # the EO end of a point being added
        self.move_ends: Callable[[int, Tuple[float, float], Tuple[float, float]], None] = lambda pid, eo, sar: None
        self.add_point: Callable[[Tuple[float, float], Tuple[float, float]], None] = lambda eo_xy, sar_xy: None

    def _build_coordinates(self) -> QGridLayout:
        """EO x, y and SAR x, y of the point, in the layers' CRS: typed, then *Set* (this point) or *Add* (new)."""
        grid = QGridLayout()
        tip = self.tr("{end} end {axis}, map units of the tie-point layers")
        self.eo_x, self.eo_y = (_coordinate_box(self, tip.format(end="EO", axis=a)) for a in "xy")
        self.sar_x, self.sar_y = (_coordinate_box(self, tip.format(end="SAR", axis=a)) for a in "xy")
        self.set_button, self.new_button = QPushButton(self.tr("Set"), self), QPushButton(self.tr("Add"), self)
        self.set_button.setToolTip(self.tr("Move the selected point's ends to the typed coordinates."))
        self.new_button.setToolTip(self.tr("Add a tie point with the typed coordinates."))
        self.set_button.clicked.connect(self._set_typed)
        self.new_button.clicked.connect(self._add_typed)
        for r, (label, x, y, button) in enumerate((("EO", self.eo_x, self.eo_y, self.set_button),
                                                   ("SAR", self.sar_x, self.sar_y, self.new_button))):
            grid.addWidget(QLabel(label, self), r, 0)
            grid.addWidget(x, r, 1)
            grid.addWidget(y, r, 2)
            grid.addWidget(button, r, 3)
        self.set_button.setEnabled(False)
        return grid

    def show_point(self, point_id: int, eo_xy, sar_xy, disp, eo: QgsRasterLayer, sar: QgsRasterLayer, pixel,
                   crs) -> None:
        """`disp`: the SAR end minus the EO end in EO pixels; `pixel`: an EO pixel's width and height."""
        self.point = (int(point_id), tuple(eo_xy), tuple(sar_xy))
        self.pixel = tuple(pixel)
        self._view = (eo, sar, crs, tuple(disp))
        decimals = min(max(math.ceil(-math.log10(min(self.pixel) / 100.0)), 0), 10)  # a hundredth of a pixel
        for box, value in zip((self.eo_x, self.eo_y, self.sar_x, self.sar_y), (*eo_xy, *sar_xy)):
            box.setText(f"{value:.{decimals}f}")
        self.set_button.setEnabled(True)
        self._render()

    def _render(self) -> None:
        eo, sar, crs, (dx, dy) = self._view
        pid, eo_xy, sar_xy = self.point
        self.eo_chip.setPixmap(QPixmap.fromImage(render_chip(eo, eo_xy, self.pixel, crs, self.zoom)))
        self.sar_chip.setPixmap(QPixmap.fromImage(render_chip(sar, sar_xy, self.pixel, crs, self.zoom)))
        self.caption.setText(f"Tie point {pid}: EO | SAR at {self.zoom:g}× (screen px per EO px); the SAR end is "
                             f"({dx:+.1f}, {dy:+.1f}) px from the EO end. Click the SAR chip to move it.")

    def zoom_by(self, step: int) -> None:
        """Zoom both views one step in (+1) or out (-1)."""
        k = min(max(ZOOMS.index(self.zoom) + step, 0), len(ZOOMS) - 1)
        self.zoom = ZOOMS[k]
        self.zoom_in.setEnabled(k < len(ZOOMS) - 1)
        self.zoom_out.setEnabled(k > 0)
        if self.point is not None:
            self._render()

    def clear(self) -> None:
        self.point = None
        self._view = None
        self.eo_chip.clear()
        self.sar_chip.clear()
        for box in (self.eo_x, self.eo_y, self.sar_x, self.sar_y):
            box.clear()
        self.set_button.setEnabled(False)
        self.caption.setText(self.tr("Select a tie point to see its EO and SAR chips."))

    def _at(self, centre, right: int, down: int) -> Tuple[float, float]:
        return centre[0] + right * self.pixel[0] / self.zoom, centre[1] - down * self.pixel[1] / self.zoom

    def _typed(self) -> Optional[Tuple[Tuple[float, float], Tuple[float, float]]]:
        try:
            values = [float(b.text().replace(",", ".")) for b in (self.eo_x, self.eo_y, self.sar_x, self.sar_y)]
        except ValueError:
            values = []
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            self.caption.setText(self.tr("Type four numbers: the EO end's x and y, the SAR end's x and y."))
            return None
        return (values[0], values[1]), (values[2], values[3])

    def _set_typed(self) -> None:
        typed = self._typed()
        if typed is not None and self.point is not None:
            self.move_ends(self.point[0], *typed)

    def _add_typed(self) -> None:
        typed = self._typed()
        if typed is not None:
            self.add_point(*typed)

    def _adding(self, on: bool) -> None:
        self.new_eo = None
        if on:
            self.caption.setText(self.tr("Add point: click a feature in the EO chip."))

    def _eo_clicked(self, right: int, down: int) -> None:
        if self.point is not None and self.add_button.isChecked():
            self.new_eo = self._at(self.point[1], right, down)
            self.caption.setText(self.tr("Add point: now click the same ground in the SAR chip."))

    def _sar_clicked(self, right: int, down: int) -> None:
        if self.point is None:
            return
        pid, eo_xy, sar_xy = self.point
        if not self.add_button.isChecked():
            self.move_ends(pid, eo_xy, self._at(sar_xy, right, down))
        elif self.new_eo is not None:
            eo_xy, self.new_eo = self.new_eo, None
            self.add_button.setChecked(False)
            self.add_point(eo_xy, self._at(sar_xy, right, down))
