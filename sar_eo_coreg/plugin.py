"""QGIS plugin class: menu and toolbar toggle, dock, Processing provider."""

from pathlib import Path

from qgis.core import QgsApplication, QgsSettings
from qgis.PyQt.QtCore import QCoreApplication, Qt, QTimer, QTranslator
from qgis.PyQt.QtGui import QIcon
from qgis.PyQt.QtWidgets import QAction

from .processing.provider import CoregProvider
from .ui.dock import CoregDock

MENU = "SAR–EO Coregistration"
ICON_PATH = Path(__file__).parent / "icons" / "icon.svg"


def install_translation():
    """The translator of QGIS's locale (i18n/sar_eo_coreg_<lang>.qm, built by lrelease), when there is one."""
    lang = str(QgsSettings().value("locale/userLocale", "") or "")[:2]
    path = Path(__file__).parent / "i18n" / f"sar_eo_coreg_{lang}.qm"
    if not lang or not path.exists():
        return None
    translator = QTranslator()
    if translator.load(str(path)):
        QCoreApplication.installTranslator(translator)
        return translator
    return None


class SarEoCoregPlugin:
    def __init__(self, iface):
        self.iface = iface
        self.action = None
        self.dock = None
        self.provider = None
        self.translator = install_translation()  # kept: Qt uses it while it lives

    def initProcessing(self):  # noqa: N802 (QGIS's name)
        if self.provider is None:  # QGIS may call this before initGui does
            self.provider = CoregProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self):  # noqa: N802 (QGIS's name)
        self.initProcessing()
        self.dock = CoregDock(self.iface)
        self.dock.setVisible(False)
        self.iface.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

        self.action = QAction(QIcon(str(ICON_PATH)), MENU, self.iface.mainWindow())
        self.action.setObjectName("sar_eo_coreg_toggle_dock")
        self.action.setCheckable(True)
        self.action.setToolTip("Show or hide the SAR–EO Coregistration panel")
        self.action.toggled.connect(self.dock.setVisible)
        self.dock.visibilityChanged.connect(self.action.setChecked)
        self.iface.addPluginToRasterMenu(MENU, self.action)
        self.iface.addRasterToolBarIcon(self.action)
        QTimer.singleShot(0, self._sync_toggle)  # QGIS restores the window layout after initGui: follow it

    def _sync_toggle(self):
        if self.action is not None and self.dock is not None:
            self.action.setChecked(not self.dock.isHidden())

    def unload(self):
        if self.action is not None:
            self.iface.removePluginRasterMenu(MENU, self.action)
            self.iface.removeRasterToolBarIcon(self.action)
            self.action.deleteLater()
            self.action = None
        if self.dock is not None:
            self.dock.shutdown()
            self.iface.removeDockWidget(self.dock)
            self.dock.deleteLater()
            self.dock = None
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
        if self.translator is not None:
            QCoreApplication.removeTranslator(self.translator)
            self.translator = None
