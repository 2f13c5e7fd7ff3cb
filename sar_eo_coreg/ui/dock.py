"""The coregistration dock panel."""

from qgis.gui import QgsDockWidget
from qgis.PyQt.QtWidgets import QLabel, QVBoxLayout, QWidget

NOT_YET = (
    "The interactive panel (layer pickers, background run, tie-point review) is not available yet "
    "in this version.\n\nThe engine runs from a terminal:\n"
    "python -m sar_eo_coreg coregister --eo EO.tif --sar SAR.tif --out DIR"
)


class CoregDock(QgsDockWidget):
    def __init__(self, iface, parent=None):
        super().__init__("SAR–EO Coregistration", parent or iface.mainWindow())
        self.setObjectName("SarEoCoregDock")
        body = QWidget(self)
        layout = QVBoxLayout(body)
        self.status_label = QLabel(NOT_YET, body)
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        layout.addStretch(1)
        self.setWidget(body)
