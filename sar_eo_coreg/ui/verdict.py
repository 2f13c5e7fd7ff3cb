"""The run's verdict on screen: a coloured banner (aligned green, partly aligned amber, not aligned red,
cancelled grey), worded with the panel's own field names, never command-line flags."""

from __future__ import annotations

from typing import Optional

from qgis.PyQt.QtCore import pyqtSignal
from qgis.PyQt.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton

from ..core.request import in_field_words

COLOURS = {"aligned": ("#1a7f37", "#e6f4ea"), "aligned_partly": ("#7d4e00", "#fff4ce"),
           "not_aligned": ("#b42318", "#fdecea"), "cancelled": ("#444444", "#eeeeee")}


def verdict_text(report) -> str:
    """The banner's line for a coregistration report (core.report.CoregReport)."""
    confidence = "" if report.confidence_mean is None else f" Mean confidence {report.confidence_mean:.2f}."
    if report.verdict == "not_aligned":
        return ("NOT aligned: no reliable match between the EO and SAR layers. Nothing was moved: the outputs keep "
                "the input georeference. Check that both layers show the same ground; if they may be further "
                "apart, raise Search radius.")
    if report.verdict == "aligned_partly":
        regions = (report.engine or {}).get("self_check", {}).get("regions_fallen_back", 0)
        return (f"Partly aligned: {regions} region{'s' if regions != 1 else ''} follow{'' if regions != 1 else 's'} "
                f"the global model, where the local field matched measurably worse.{confidence}")
    return f"Aligned.{confidence}"


class VerdictBanner(QFrame):
    """One line of verdict in the verdict's colour; for a partly aligned run, a button that zooms to the regions."""

    zoom_requested = pyqtSignal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("verdict_banner")
        self.verdict: Optional[str] = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.zoom_button = QPushButton(self.tr("Zoom to them"), self)
        self.zoom_button.setToolTip(self.tr("Zoom the map to the regions that follow the global model."))
        self.zoom_button.clicked.connect(self.zoom_requested)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.zoom_button)
        self.clear()

    def clear(self) -> None:
        self.verdict = None
        self.label.clear()
        self.label.setToolTip("")
        self.zoom_button.hide()
        self.hide()

    def show_verdict(self, verdict: str, text: str, details: str = "") -> None:
        """verdict: aligned | aligned_partly | not_aligned | cancelled."""
        self.verdict = verdict
        text_colour, background = COLOURS[verdict]
        self.setStyleSheet(f"#verdict_banner {{ background: {background}; border: 1px solid {text_colour}; "
                           f"border-radius: 3px; }} #verdict_banner QLabel {{ color: {text_colour}; }}")
        self.label.setText(text)
        self.label.setToolTip(in_field_words(details))
        self.zoom_button.setVisible(verdict == "aligned_partly")
        self.show()

    @property
    def colour(self) -> Optional[str]:
        """The text colour of the verdict shown (for tests and screenshots)."""
        return COLOURS[self.verdict][0] if self.verdict else None
