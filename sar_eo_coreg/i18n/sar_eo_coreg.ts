<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" sourcelanguage="en">
<context>
    <name>ChipViewer</name>
    <message>
        <location filename="../ui/chips.py" line="98"/>
        <source>Select a tie point to see its EO and SAR chips.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="100"/>
        <source>Add point</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="102"/>
        <source>Click a feature in the EO chip, then the same ground in the SAR chip.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="139"/>
        <source>{end} end {axis}, map units of the tie-point layers</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="142"/>
        <source>Set</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="142"/>
        <source>Add</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="143"/>
        <source>Move the selected point's ends to the typed coordinates.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="144"/>
        <source>Add a tie point with the typed coordinates.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="204"/>
        <source>Type four numbers: the EO end's x and y, the SAR end's x and y.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="221"/>
        <source>Add point: click a feature in the EO chip.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/chips.py" line="226"/>
        <source>Add point: now click the same ground in the SAR chip.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CompareControls</name>
    <message>
        <location filename="../ui/compare_controls.py" line="28"/>
        <source>Compare</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py" line="32"/>
        <source>Draw a SAR over the map through a swipe line or a checkerboard, to follow edges from the EO into the SAR.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py" line="35"/>
        <source>after</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py" line="36"/>
        <source>before</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py" line="37"/>
        <source>after: the aligned SAR over the EO; before: the input SAR over the EO, in the same stretch.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py" line="42"/>
        <source>Swipe: position of the line. Checkerboard: size of the cells.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/compare_controls.py" line="69"/>
        <source>Nothing to compare yet: run a coregistration first.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>CoregDock</name>
    <message>
        <location filename="../ui/dock.py" line="60"/>
        <source>SAR–EO Coregistration</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="65"/>
        <source>Coregister</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="67"/>
        <source>Review tie points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="129"/>
        <source>Inputs</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="139"/>
        <source>EO (optical) layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="140"/>
        <source>EO band</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="141"/>
        <source>SAR layer</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="144"/>
        <source>Options</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="148"/>
        <source>Descriptors of the dense engine. {choices}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="150"/>
        <source>default</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="151"/>
        <source>Model name (NAME.json with its .onnx files, in the profile's sar_eo_coreg/weights or SAR_EO_COREG_WEIGHTS) or a .json path</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="157"/>
        <source>Device: not checked yet</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="165"/>
        <source>automatic</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="166"/>
        <source>How far apart the EO and SAR may be. Automatic: 15 % of the overlap's larger side.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="171"/>
        <source>Tie points at the finest level, at most: more is denser and slower.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="179"/>
        <source>Each run writes a sub-folder named after the run.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="180"/>
        <source>Matcher</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="181"/>
        <source>Model</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="182"/>
        <source>Device</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="184"/>
        <source>Search radius</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="185"/>
        <source>Tie points (at most)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="186"/>
        <source>Transform</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="187"/>
        <source>Resampling</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="188"/>
        <source>Output folder</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="194"/>
        <source>Cancel</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="196"/>
        <source>Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="206"/>
        <source>Choose an EO and a SAR layer, then Coregister.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="212"/>
        <source>Messages from the run</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="233"/>
        <source>Apply &amp;&amp; export</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="234"/>
        <source>Re-fit from the enabled points, write the aligned SAR and load it.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="235"/>
        <source>Import…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="236"/>
        <source>Load tie points from a Georeferencer .points, SpaceNet 9 .csv or .gpkg file.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="237"/>
        <source>Export…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="238"/>
        <source>Save the reviewed tie points as Georeferencer .points or SpaceNet 9 .csv.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="239"/>
        <source>Report…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="240"/>
        <source>Save a residual report (HTML, prints to PDF) of the points as shown.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="260"/>
        <source>Luminance of bands 1–3 (RGB)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="274"/>
        <source>Set up environment…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="275"/>
        <source>Opens the settings, where one click installs the engine's packages into a Python environment of the plugin.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="330"/>
        <source>Not aligned: there are no tie points to review. The outputs keep the input georeference.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="368"/>
        <source>Run a coregistration (or import tie points) first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="390"/>
        <source>Import tie points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="391"/>
        <source>Tie points (*.points *.csv *.gpkg)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="400"/>
        <source>Nothing to export yet: run a coregistration first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="403"/>
        <source>Export tie points</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="404"/>
        <source>QGIS Georeferencer (*.points);;SpaceNet 9 tie points (*.csv)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="415"/>
        <source>Nothing to report yet: run a coregistration and wait for the fit.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="418"/>
        <source>Residual report</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="420"/>
        <source>HTML report (*.html)</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="431"/>
        <source>Residual report written: {path}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="433"/>
        <source>Cannot write the report: {error}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/dock.py" line="437"/>
        <source>A run is in progress. Cancel it and close the panel?</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>ReviewPanel</name>
    <message>
        <location filename="../ui/review.py" line="64"/>
        <source>Run a coregistration to review its tie points.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="84"/>
        <source>Disable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="85"/>
        <source>Enable</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="86"/>
        <source>Delete</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="98"/>
        <source>suspect</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="99"/>
        <source>Disable the enabled suspect points (red triangles): off the robust global model, a large residual, or at the image's edge.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="102"/>
        <source>conf. &lt;</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="103"/>
        <source>Disable the enabled points whose confidence is below this value.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="109"/>
        <source>Undo</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="110"/>
        <source>Undo the last enable/disable action of this panel.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/review.py" line="188"/>
        <source>The tie-point layers of this run were removed from the project.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>RunController</name>
    <message>
        <location filename="../ui/controller.py" line="90"/>
        <source>Device: checking…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="117"/>
        <source>Detected: {device}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="119"/>
        <source>The worker Python lacks {packages}: set up the environment first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="122"/>
        <source>a working Python with the engine's packages</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="123"/>
        <source>The worker Python is not usable: set up the environment, or choose a Python in Settings…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="130"/>
        <source>Choose an EO (optical) layer and a SAR layer first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="132"/>
        <source>The EO and SAR layers are the same. Choose the optical image as EO and the radar image as SAR.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="137"/>
        <source>The {role} layer '{name}' is not a raster file on disk. Save it as a GeoTIFF first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="140"/>
        <source>The {role} layer '{name}' has no CRS. Set it in Layer Properties ▸ Source (it is passed to the engine), then try again.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="144"/>
        <source>Choose an output folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="147"/>
        <source>Cannot write to the output folder {folder}. Choose a writable folder.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="154"/>
        <source>A run is already in progress; cancel it first.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="156"/>
        <source>The worker Python lacks {packages}. Set up the environment first (Settings…).</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="177"/>
        <source>Coregister {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="189"/>
        <source>Apply edits of {name}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="200"/>
        <source>Import {file}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="208"/>
        <source>Export {file}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="209"/>
        <source>Exported the tie points to {path}.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="213"/>
        <source>Cancelling…</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="250"/>
        <source>, about {time} left</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="261"/>
        <source>Cancelled: nothing was written, and the layers are as they were.</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="278"/>
        <source>Note: {note}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="283"/>
        <source>, mean confidence {value:.2f}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="284"/>
        <source>Done: {points}{confidence}. Outputs in {folder}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="293"/>
        <source>Aligned SAR (edited {n})</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="296"/>
        <source>Applied: {points}. Aligned SAR, offsets, .points and SpaceNet 9 CSV in {folder}</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/controller.py" line="303"/>
        <source>Imported {n} tie points into {folder}.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../ui/settings_dialog.py" line="54"/>
        <source>SAR–EO Coregistration settings</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py" line="65"/>
        <source>Worker Python</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py" line="71"/>
        <source>Check environment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py" line="72"/>
        <source>Set up environment</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py" line="74"/>
        <source>Stop</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/settings_dialog.py" line="82"/>
        <source>Also install the training tools (torch; about 5.9 GB, the engine does not need them)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>VerdictBanner</name>
    <message>
        <location filename="../ui/verdict.py" line="44"/>
        <source>Zoom to them</source>
        <translation type="unfinished"></translation>
    </message>
    <message>
        <location filename="../ui/verdict.py" line="45"/>
        <source>Zoom the map to the regions that follow the global model.</source>
        <translation type="unfinished"></translation>
    </message>
</context>
<context>
    <name>WorkerTask</name>
    <message>
        <location filename="../ui/task.py" line="50"/>
        <source>{task} (cancelled)</source>
        <translation type="unfinished"></translation>
    </message>
</context>
</TS>
