"""Judge an alignment in the canvas: one raster (the aligned or the input SAR) drawn over the map through a
swipe or a checkerboard mask, so edges can be followed across the two images. QGIS has no swipe of its own.

The layer is rendered off-screen for the canvas's current view (QgsMapRendererParallelJob, re-run when the
view changes) and painted by a canvas item through the mask; the canvas's own layers stay untouched.
"""

from __future__ import annotations

import weakref
from functools import partial
from typing import Optional

from qgis.core import QgsMapRendererParallelJob, QgsMapSettings, QgsRasterLayer
from qgis.gui import QgsMapCanvas, QgsMapCanvasItem
from qgis.PyQt.QtCore import QRect
from qgis.PyQt.QtGui import QColor, QImage, QPainter, QPen, QRegion

from ..bridge.tiepoint_layers import stretch_to


class CompareItem(QgsMapCanvasItem):
    """`layer` over the canvas: left of `position` (0-1 of the width) in swipe mode, on alternate cells of
    `cell_px` screen pixels in checkerboard mode."""

    def __init__(self, canvas: QgsMapCanvas, layer: QgsRasterLayer, mode: str = "swipe", stretch=None):
        super().__init__(canvas)
        self.canvas = canvas
        self.layer = layer
        self._opaque = _opaque_copy(layer, stretch)
        self.mode = mode
        self.position = 0.5
        self.cell_px = 64
        self.image: Optional[QImage] = None
        self._job: Optional[QgsMapRendererParallelJob] = None
        self.setZValue(50)  # above the layers, below the tie-point rubber bands and tools
        self._removed = False
        canvas.extentsChanged.connect(self.render)
        self.render()

    def set_mode(self, mode: str, value: Optional[float] = None) -> None:
        """mode swipe: value = position 0-1; checkerboard: value = cell size in screen pixels."""
        self.mode = mode
        if value is not None:
            if mode == "swipe":
                self.position = min(max(float(value), 0.0), 1.0)
            else:
                self.cell_px = max(int(value), 4)
        self.update()

    def render(self) -> None:
        if self._removed:
            return
        if self._job is not None:
            self._job.cancelWithoutBlocking()
        settings = QgsMapSettings(self.canvas.mapSettings())
        settings.setLayers([self._opaque])
        settings.setBackgroundColor(QColor(0, 0, 0, 0))
        job = QgsMapRendererParallelJob(settings)
        job.finished.connect(partial(_job_finished, weakref.ref(self), job))  # the item may be gone by then
        self._job = job
        job.start()

    def _rendered(self, job: QgsMapRendererParallelJob) -> None:
        if job is not self._job or self._removed:  # a newer view is being rendered, or the item was removed
            return
        self.image = job.renderedImage()
        self.setRect(job.mapSettings().visibleExtent())
        self._job = None
        self.update()

    def region(self) -> QRegion:
        """The mask, in the item's pixel coordinates."""
        if self.image is None:
            return QRegion()
        w, h = self.image.width(), self.image.height()
        if self.mode == "swipe":
            return QRegion(QRect(0, 0, int(round(w * self.position)), h))
        region = QRegion()
        n = self.cell_px
        for row in range(0, h, n):
            for col in range((row // n) % 2 * n, w, 2 * n):
                region = region.united(QRegion(QRect(col, row, n, n)))
        return region

    def paint(self, painter: QPainter, *args) -> None:  # noqa: D401 (QgsMapCanvasItem's name)
        if self.image is None:
            return
        ratio = self.image.devicePixelRatioF() or 1.0
        painter.save()
        painter.setClipRegion(self.region())
        painter.drawImage(QRect(0, 0, int(self.image.width() / ratio), int(self.image.height() / ratio)), self.image)
        painter.restore()
        if self.mode == "swipe":
            painter.setPen(QPen(QColor("#ffeb3b"), 2))
            x = int(round(self.image.width() / ratio * self.position))
            painter.drawLine(x, 0, x, int(self.image.height() / ratio))

    def remove(self) -> None:
        if self._removed:
            return
        self._removed = True
        try:
            self.canvas.extentsChanged.disconnect(self.render)
        except TypeError:
            pass
        if self._job is not None:
            self._job.cancel()  # blocks until the job has let go of the layer copy
            self._job = None
        self._opaque = None
        self.canvas.scene().removeItem(self)


def _job_finished(item_ref, job) -> None:
    item = item_ref()
    if item is not None:
        item._rendered(job)


def _opaque_copy(layer: QgsRasterLayer, stretch=None) -> QgsRasterLayer:
    """The layer as drawn through the mask: its style (or a grey stretch (min, max)), at full opacity (the canvas
    may show it blended)."""
    copy = layer.clone()
    if stretch is not None:
        stretch_to(copy, *stretch)
    if copy.renderer() is not None:
        copy.renderer().setOpacity(1.0)
    return copy


def wait_for_render(item: CompareItem, timeout_s: float = 30.0) -> bool:
    """Block until the item's render job has finished (for tests and screenshots)."""
    import time

    from qgis.PyQt.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_s
    while item._job is not None and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)
    return item._job is None and item.image is not None

