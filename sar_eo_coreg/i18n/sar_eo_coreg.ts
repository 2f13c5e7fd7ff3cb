<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" sourcelanguage="en">
<context>
    <name>ChipViewer</name>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Select a tie point to see its EO and SAR chips.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Add point</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Click a feature in the EO chip, then the same ground in the SAR chip.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>{end} end {axis}, map units of the tie-point layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Set</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Add</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Move the selected point's ends to the typed coordinates.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Add a tie point with the typed coordinates.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Type four numbers: the EO end's x and y, the SAR end's x and y.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Add point: click a feature in the EO chip.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py"/>
        <source>Add point: now click the same ground in the SAR chip.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CompareControls</name>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>Compare</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>Draw a SAR over the map through a swipe line or a checkerboard, to follow edges from the EO into the SAR.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>after</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>before</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>after: the aligned SAR over the EO; before: the input SAR over the EO, in the same stretch.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>Swipe: position of the line. Checkerboard: size of the cells.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py"/>
        <source>Nothing to compare yet: run a coregistration first.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CoregDock</name>
    <message>
        <location filename="../ui/dock.py"/>
        <source>SAR–EO Coregistration</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Coregister</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Review tie points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Inputs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>EO (optical) layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>EO band</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>SAR layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Options</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Descriptors of the dense engine. {choices}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>default</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Model name (NAME.json with its .onnx files, in the profile's sar_eo_coreg/weights or SAR_EO_COREG_WEIGHTS) or a .json path</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Device: not checked yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>automatic</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>How far apart the EO and SAR may be. Automatic: 15 % of the overlap's larger side.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Tie points at the finest level, at most: more is denser and slower.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Each run writes a sub-folder named after the run.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Matcher</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Search radius</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Tie points (at most)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Transform</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Resampling</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Choose an EO and a SAR layer, then Coregister.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Messages from the run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Apply &amp;&amp; export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Re-fit from the enabled points, write the aligned SAR and load it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Import…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Load tie points from a Georeferencer .points, SpaceNet 9 .csv or .gpkg file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Export…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Save the reviewed tie points as Georeferencer .points or SpaceNet 9 .csv.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Report…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Save a residual report (HTML, prints to PDF) of the points as shown.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Luminance of bands 1–3 (RGB)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Set up environment…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Opens the settings, where one click installs the engine's packages into a Python environment of the plugin.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Not aligned: there are no tie points to review. The outputs keep the input georeference.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Run a coregistration (or import tie points) first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Import tie points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Tie points (*.points *.csv *.gpkg)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Nothing to export yet: run a coregistration first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Export tie points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>QGIS Georeferencer (*.points);;SpaceNet 9 tie points (*.csv)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Nothing to report yet: run a coregistration and wait for the fit.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Residual report</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>HTML report (*.html)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Residual report written: {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>Cannot write the report: {error}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py"/>
        <source>A run is in progress. Cancel it and close the panel?</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ReviewPanel</name>
    <message>
        <location filename="../ui/review.py"/>
        <source>Run a coregistration to review its tie points.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Disable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Enable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Delete</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>suspect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Disable the enabled suspect points (red triangles): off the robust global model, a large residual, or at the image's edge.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>conf. &lt;</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Disable the enabled points whose confidence is below this value.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Undo</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>Undo the last enable/disable action of this panel.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py"/>
        <source>The tie-point layers of this run were removed from the project.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>RunController</name>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Device: checking…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Detected: {device}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>The worker Python lacks {packages}: set up the environment first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>a working Python with the engine's packages</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>The worker Python is not usable: set up the environment, or choose a Python in Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Choose an EO (optical) layer and a SAR layer first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>The EO and SAR layers are the same. Choose the optical image as EO and the radar image as SAR.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>The {role} layer '{name}' is not a raster file on disk. Save it as a GeoTIFF first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>The {role} layer '{name}' has no CRS. Set it in Layer Properties ▸ Source (it is passed to the engine), then try again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Choose an output folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Cannot write to the output folder {folder}. Choose a writable folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>A run is already in progress; cancel it first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>The worker Python lacks {packages}. Set up the environment first (Settings…).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Coregister {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Apply edits of {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Import {file}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Export {file}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Exported the tie points to {path}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>, about {time} left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Cancelled: nothing was written, and the layers are as they were.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Note: {note}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>, mean confidence {value:.2f}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Done: {points}{confidence}. Outputs in {folder}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Aligned SAR (edited {n})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Applied: {points}. Aligned SAR, offsets, .points and SpaceNet 9 CSV in {folder}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py"/>
        <source>Imported {n} tie points into {folder}.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../ui/settings_dialog.py"/>
        <source>SAR–EO Coregistration settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py"/>
        <source>Worker Python</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py"/>
        <source>Check environment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py"/>
        <source>Set up environment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py"/>
        <source>Stop</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py"/>
        <source>Also install the training tools (torch; about 5.9 GB, the engine does not need them)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>VerdictBanner</name>
    <message>
        <location filename="../ui/verdict.py"/>
        <source>Zoom to them</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/verdict.py"/>
        <source>Zoom the map to the regions that follow the global model.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>WorkerTask</name>
    <message>
        <location filename="../ui/task.py"/>
        <source>{task} (cancelled)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
