"""The compare row under the review: the aligned SAR (after) or the input SAR (before) drawn over the EO alone
through a swipe line or a checkerboard (ui/compare.py), with both SARs in one stretch."""

from __future__ import annotations

from typing import Callable, Optional

from qgis.core import QgsProject
from qgis.PyQt.QtCore import Qt
from qgis.PyQt.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from ..bridge.tiepoint_layers import sar_stretch
from .compare import CompareItem


class CompareControls(QWidget):
    """Mode (off, swipe, checkerboard), side (after, before) and the slider; `item` is what is on the canvas.
    `input_sar()` and `aligned()` give the layers (None when there is none), `aligned_shown()` whether the
    aligned SAR may be shown when not comparing, `say(text, error)` reports."""

    def __init__(self, canvas, input_sar: Callable, aligned: Callable, aligned_shown: Callable[[], bool],
                 say: Callable, parent=None):
        super().__init__(parent)
        self.canvas, self.input_sar, self.aligned, self.aligned_shown, self.say = \
            canvas, input_sar, aligned, aligned_shown, say
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel(self.tr("Compare"), self))
        self.mode = QComboBox(self)
        for label, mode in (("off", None), ("swipe", "swipe"), ("checkerboard", "checkerboard")):
            self.mode.addItem(label, mode)
        self.mode.setToolTip(self.tr("Draw a SAR over the map through a swipe line or a checkerboard, to follow edges "
                                     "from the EO into the SAR."))
        self.side = QComboBox(self)
        self.side.addItem(self.tr("after"), "aligned")
        self.side.addItem(self.tr("before"), "input")
        self.side.setToolTip(self.tr("after: the aligned SAR over the EO; before: the input SAR over the EO, in the "
                                     "same stretch."))
        self.slider = QSlider(Qt.Orientation.Horizontal, self)
        self.slider.setRange(0, 100)
        self.slider.setValue(50)
        self.slider.setToolTip(self.tr("Swipe: position of the line. Checkerboard: size of the cells."))
        for widget in (self.mode, self.side, self.slider):
            widget_signal = widget.valueChanged if widget is self.slider else widget.currentIndexChanged
            widget_signal.connect(lambda *_: self.refresh())
            row.addWidget(widget, 1 if widget is self.slider else 0)
        self.item: Optional[CompareItem] = None

    def show_run(self, compare: bool) -> None:
        """After a run: the swipe of the aligned SAR over the EO (`compare`), or nothing to compare."""
        if compare:
            self.mode.setCurrentIndex(self.mode.findData("swipe"))
            self.side.setCurrentIndex(self.side.findData("aligned"))
        else:
            self.mode.setCurrentIndex(0)
        self.refresh()

    def refresh(self) -> None:
        """Draw the chosen SAR through the swipe or checkerboard over the EO alone: while comparing, the SAR
        layers are hidden in the canvas, so the other side shows EO pixels. Both SARs share one stretch."""
        mode = self.mode.currentData()
        source = (self.input_sar() if self.side.currentData() == "input" else self.aligned()) if mode else None
        if self.item is not None and (source is not self.item.layer or mode is None):
            self.remove()
        self._show_sar_layers(mode is None)
        if mode is None:
            return
        if source is None:
            self.say(self.tr("Nothing to compare yet: run a coregistration first."), True)
            return
        value = self.slider.value()
        value = value / 100.0 if mode == "swipe" else 8 + value * 2.4  # swipe: 0-1; checkerboard: 8-248 px
        if self.item is None:
            aligned = self.aligned()
            stretch = sar_stretch(aligned) if aligned is not None and aligned.isValid() else None
            self.item = CompareItem(self.canvas, source, mode, stretch)
        self.item.set_mode(mode, value)

    def _show_sar_layers(self, visible: bool) -> None:
        """The input SAR stays hidden after a run; the run's aligned SAR shows only when not comparing."""
        root = QgsProject.instance().layerTreeRoot()
        for layer, show in ((self.input_sar(), False), (self.aligned(), visible and self.aligned_shown())):
            node = root.findLayer(layer.id()) if layer is not None else None
            if node is not None:
                node.setItemVisibilityChecked(show)

    def remove(self) -> None:
        """Take the comparison off the canvas."""
        if self.item is not None:
            self.item.remove()
            self.item = None
