"""The point chip viewer: for the selected tie point, the EO around its EO end and the input SAR around its SAR
end, side by side at the EO's full resolution, each with a cross on the match. Where the match is right both
crosses sit on the same ground. A click in the SAR chip moves the SAR end there (as the Vertex tool would).
*Add point*: click a feature in the EO chip, then the same ground in the SAR chip: a new tie point links them."""

from __future__ import annotations

from typing import Callable, Optional, Tuple

import numpy as np
from qgis.core import QgsMapRendererCustomPainterJob, QgsMapSettings, QgsRasterLayer, QgsRectangle
from qgis.PyQt.QtCore import QPoint, QSize, Qt, pyqtSignal
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen, QPixmap
from qgis.PyQt.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

CHIP_PX = 160  # screen pixels a chip side; one screen pixel = one EO pixel


def render_chip(layer: QgsRasterLayer, centre: Tuple[float, float], pixel: Tuple[float, float], crs) -> QImage:
    """`layer` around `centre` (map coordinates of `crs`), CHIP_PX EO pixels (`pixel`: width, height in map
    units) a side, stretched to its own 2-98 % grey levels, with a cross at the centre."""
    half_w, half_h = CHIP_PX * pixel[0] / 2.0, CHIP_PX * pixel[1] / 2.0
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
    clicked = pyqtSignal(int, int)  # pixel offset from the centre (right, down)

    def mousePressEvent(self, event):  # noqa: N802 (Qt's name)
        self.clicked.emit(event.pos().x() - CHIP_PX // 2, event.pos().y() - CHIP_PX // 2)


class ChipViewer(QWidget):
    """EO | SAR chips of one tie point. `move_sar_end(point_id, new_xy)` is called on a click in the SAR chip."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.eo_chip, self.sar_chip = _Chip(self), _Chip(self)
        for chip, tip in ((self.eo_chip, "EO around the tie point's EO end"),
                          (self.sar_chip, "Input SAR around the tie point's SAR end: click where the EO's ground is "
                                          "to move the SAR end there")):
            chip.setFixedSize(CHIP_PX, CHIP_PX)
            chip.setToolTip(tip)
            chip.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.caption = QLabel(self.tr("Select a tie point to see its EO and SAR chips."), self)
        self.caption.setWordWrap(True)
        self.add_button = QPushButton(self.tr("Add point"), self)
        self.add_button.setCheckable(True)
        self.add_button.setToolTip(self.tr("Click a feature in the EO chip, then the same ground in the SAR chip."))
        self.add_button.toggled.connect(self._adding)
        row = QHBoxLayout()
        row.addWidget(self.eo_chip)
        row.addWidget(self.sar_chip)
        row.addStretch(1)
        top = QHBoxLayout()  # the button beside the caption: the chips alone fill a 420-px panel
        top.addWidget(self.caption, 1)
        top.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(row)
        self.sar_chip.clicked.connect(self._sar_clicked)
        self.eo_chip.clicked.connect(self._eo_clicked)
        self.point: Optional[Tuple[int, Tuple[float, float], Tuple[float, float]]] = None  # id, EO end, SAR end
        self.pixel = (1.0, 1.0)  # an EO pixel's width and height, map units
        self.new_eo: Optional[Tuple[float, float]] = None  # the EO end of a point being added
        self.move_sar_end: Callable[[int, Tuple[float, float]], None] = lambda pid, xy: None
        self.add_point: Callable[[Tuple[float, float], Tuple[float, float]], None] = lambda eo_xy, sar_xy: None

    def show_point(self, point_id: int, eo_xy, sar_xy, disp, eo: QgsRasterLayer, sar: QgsRasterLayer, pixel,
                   crs) -> None:
        """`disp`: the SAR end minus the EO end in EO pixels; `pixel`: an EO pixel's width and height."""
        self.point = (int(point_id), tuple(eo_xy), tuple(sar_xy))
        self.pixel = tuple(pixel)
        self.eo_chip.setPixmap(QPixmap.fromImage(render_chip(eo, eo_xy, self.pixel, crs)))
        self.sar_chip.setPixmap(QPixmap.fromImage(render_chip(sar, sar_xy, self.pixel, crs)))
        dx, dy = disp
        self.caption.setText(f"Tie point {point_id}: EO | SAR, 1 screen pixel = 1 EO pixel; the SAR end is "
                             f"({dx:+.1f}, {dy:+.1f}) px from the EO end. Click the SAR chip to move it.")

    def clear(self) -> None:
        self.point = None
        self.eo_chip.clear()
        self.sar_chip.clear()
        self.caption.setText(self.tr("Select a tie point to see its EO and SAR chips."))

    def _at(self, centre, right: int, down: int) -> Tuple[float, float]:
        return centre[0] + right * self.pixel[0], centre[1] - down * self.pixel[1]

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
        pid, _, sar_xy = self.point
        if not self.add_button.isChecked():
            self.move_sar_end(pid, self._at(sar_xy, right, down))
        elif self.new_eo is not None:
            eo_xy, self.new_eo = self.new_eo, None
            self.add_button.setChecked(False)
            self.add_point(eo_xy, self._at(sar_xy, right, down))
