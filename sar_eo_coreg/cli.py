"""The plain command line. Every subcommand calls the same engine pipeline as the plugin.

User mistakes exit with code 2 and one line on stderr ("error: ..."), never a traceback.
`--progress jsonl` prints one JSON object per line on stdout for the plugin's worker:
{"type": "progress", "fraction": 0.42, "message": "..."}, then {"type": "result", ...} or
{"type": "error", "message": "..."}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import warnings

from . import __version__

EXIT_USER_ERROR = 2
EXIT_CANCELLED = 130


class UsageError(Exception):
    """A bad command line: one line, which `main` prints (also as JSON under --progress jsonl)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see {self.prog} --help)")


def _refuse_usage(line: str, argv) -> int:
    if "--progress=jsonl" in argv or any(a == "--progress" and b == "jsonl" for a, b in zip(argv, argv[1:])):
        print(json.dumps({"type": "error", "message": line}), flush=True)
    print(f"error: {line}", file=sys.stderr)
    return EXIT_USER_ERROR


def _number(kind, low=None, high=None, positive=False, what=""):
    """An argparse type: a finite number in range; the message names the valid range."""
    rule = "> 0" if positive else (f"from {low} to {high}" if high is not None else f">= {low}" if low is not None else "")

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a{'n integer' if kind is int else ' number'}") from None
        bad = (kind is float and not math.isfinite(value)) or (positive and value <= 0) \
            or (low is not None and value < low) or (high is not None and value > high)
        if bad:
            noun = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"must be {noun} {rule}{what}, got '{text}'")
        return value

    return parse


def _add_inputs(p):
    p.add_argument("--eo", required=True, help="EO (optical) raster")
    p.add_argument("--sar", required=True, help="SAR raster")
    _add_crs(p)


def _add_crs(p):
    p.add_argument("--eo-crs", default=None, metavar="CRS",
                   help="use this CRS for the EO instead of the file's (EPSG code, WKT, PROJ), like a CRS set in QGIS")
    p.add_argument("--sar-crs", default=None, metavar="CRS", help="the same for the SAR")


def _add_coregister_args(p):
    _add_inputs(p)
    p.add_argument("--out", required=True, help="output folder (created; our files in it are replaced)")
    _add_options(p)


def _add_options(p):
    """The request's options (CoregParams), as coregister and batch take them."""
    from .core.choices import DEVICES, RESAMPLINGS, Matcher, Transform
    from .core.request import MAX_POINTS_RANGE, CoregParams

    p.add_argument("--matcher", default=CoregParams.matcher, choices=Matcher.names(),
                   help=f"descriptors of the dense engine; {Matcher.help()}")
    p.add_argument("--model", default=None,
                   help="learned: model NAME (NAME.json + NAME.eo.onnx + NAME.sar.onnx in $SAR_EO_COREG_WEIGHTS or "
                        "weights/) or PATH.json (default: default)")
    p.add_argument("--transform", default=CoregParams.transform, choices=Transform.names(),
                   help="auto: the engine's dense field; others: that model fitted to the tie points")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="where learned models run (onnxruntime): auto uses a CUDA GPU with onnxruntime-gpu; CFOG runs "
                        "on the CPU")
    p.add_argument("--seed", type=_number(int, 0, 2**32 - 1), default=0)
    p.add_argument("--search-radius-m", type=_number(float, positive=True, what=" (metres)"), default=None,
                   help="largest expected misregistration in metres (default: 15%% of the overlap)")
    p.add_argument("--resampling", default="bilinear", choices=RESAMPLINGS)
    p.add_argument("--working-gsd-m", type=_number(float, positive=True, what=" (metres)"), default=None,
                   help="matching resolution in metres (default: the coarser input)")
    p.add_argument("--eo-bands", default=None, help="comma-separated EO bands to average (default: RGB luminance)")
    p.add_argument("--sar-scale", default="auto", choices=("auto", "linear", "db", "display"))
    p.add_argument("--max-points", type=_number(int, *MAX_POINTS_RANGE), default=CoregParams.max_points,
                   help="tie points at the finest level, at most")
    p.add_argument("--tiepoints-only", action="store_true", help="write tie points and report, no rasters")


def build_parser() -> argparse.ArgumentParser:
    from .core.choices import RESAMPLINGS, Transform

    parser = _Parser(prog="python -m sar_eo_coreg", description="Coregister SAR imagery to EO imagery.")
    parser.add_argument("--version", action="version", version=f"sar_eo_coreg {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND", parser_class=_Parser)

    p = sub.add_parser("coregister", help="match, fit and write the aligned SAR, offsets and tie points")
    _add_coregister_args(p)
    p.add_argument("--progress", default="bar", choices=("bar", "jsonl", "none"))

    p = sub.add_parser("batch", help="coregister many pairs on Dask (a local cluster, or one by --scheduler)")
    p.add_argument("--manifest", default=None, help="CSV with columns eo,sar[,name][,options]: one pair per row; an "
                   "option column (e.g. search_radius_m, transform) overrides the batch's option for its row")
    p.add_argument("--eo", default=None, help="one EO for every SAR of --sar (instead of --manifest)")
    p.add_argument("--sar", default=None, help="a glob of SAR rasters, quoted: 'scenes/*.tif'")
    _add_crs(p)
    p.add_argument("--out", required=True, help="batch folder: one subfolder per pair, batch.csv, batch.gpkg")
    _add_options(p)
    p.add_argument("--workers", type=_number(int, 1, 256), default=None,
                   help="worker processes of the local cluster (default: one per two cores)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on this Dask cluster (tcp://host:8786) instead of a local one")
    p.add_argument("--force", action="store_true", help="run pairs whose complete result is already there again")
    p.add_argument("--progress", default="bar", choices=("bar", "jsonl", "none"))

    p = sub.add_parser("apply", help="re-fit from an edited tie-point file and rewrite the outputs")
    p.add_argument("--tiepoints", required=True, help="tiepoints.gpkg, .points or SpaceNet 9 .csv (enabled rows)")
    _add_inputs(p)
    p.add_argument("--out", required=True)
    p.add_argument("--transform", default=Transform.AUTO.value, choices=Transform.names(), help=Transform.AUTO.label)
    p.add_argument("--resampling", default="bilinear", choices=RESAMPLINGS)
    p.add_argument("--progress", default="bar", choices=("bar", "jsonl", "none"))

    p = sub.add_parser("convert", help="rewrite a tie-point file as .gpkg, SpaceNet 9 .csv or Georeferencer .points")
    p.add_argument("--tiepoints", required=True, help="input tie points (.gpkg, .csv or .points)")
    p.add_argument("--to", required=True, help="output file; its extension picks the format")
    _add_inputs(p)
    p.add_argument("--progress", default="bar", choices=("bar", "jsonl", "none"))

    sub.add_parser("env", help="print versions, missing packages and the compute device as JSON")

    from .core.choices import DEVICES
    from .models.registry import MODEL_NAMES
    from .training.commands import add_data_args
    from .training.heatmap_task import LOSSES

    p = sub.add_parser("train", help="train a heatmap model (U-Net family) on aligned pairs and/or SpaceNet 9 data")
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    add_data_args(p)
    p.add_argument("--out", required=True, help="folder for best.pt, last.pt and metrics.csv")
    p.add_argument("--loss", default="softmax", choices=LOSSES)
    p.add_argument("--sigma", type=_number(float, positive=True), default=1.5,
                   help="Gaussian label sigma, px (paper 1, SpaceNet 9 baseline 13)")
    p.add_argument("--steps", type=_number(int, 1), default=2000)
    p.add_argument("--batch", type=_number(int, 1), default=16)
    p.add_argument("--lr", type=_number(float, positive=True), default=1e-3)
    p.add_argument("--seed", type=_number(int, 0, 2**32 - 1), default=0)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--val-every", type=_number(int, 1), default=200)
    p.add_argument("--val-samples", type=_number(int, 1), default=256)
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="model option, e.g. width=24 or eo_channels=3")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("train-dense", help="train a family model as a dense descriptor (self-supervised, CPU) and "
                       "export it to ONNX for the engine")
    p.add_argument("--model", required=True, choices=MODEL_NAMES)
    p.add_argument("--aligned-index", default=None, help="index.csv of aligned pairs (default ../shared/data/aligned)")
    p.add_argument("--corrections", default="bench/results/pair_check.json",
                   help="re-measured offsets of pairs that are not pixel-aligned (bench/pair_check.py)")
    p.add_argument("--extra", default="bench/work/extra_pairs.csv",
                   help="the bench's extra pairs: they count in the fold split (as in bench/accuracy.py), not in training")
    p.add_argument("--out", required=True, help="model files stem: writes STEM.json, STEM.eo.onnx, STEM.sar.onnx")
    p.add_argument("--steps", type=_number(int, 1), default=1500)
    p.add_argument("--minutes", type=_number(float, positive=True), default=40.0, help="wall-clock budget")
    p.add_argument("--batch", type=_number(int, 1), default=8)
    p.add_argument("--crop", type=_number(int, 48, 1024), default=128)
    p.add_argument("--lr", type=_number(float, positive=True), default=2e-3)
    p.add_argument("--seed", type=_number(int, 0, 2**32 - 1), default=0)
    p.add_argument("--folds", type=_number(int, 2), default=5)
    p.add_argument("--fold", type=_number(int, 0), default=0, help="held-out fold (bench/accuracy.py --heldout-fold)")
    p.add_argument("--device", default="cpu", choices=DEVICES, help="where torch trains (cuda on a GPU machine)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="model option, e.g. width=24")

    p = sub.add_parser("evaluate", help="EPE and PCK@1/3/5/10/20 px of models on the held-out fold's tiles")
    p.add_argument("--model", action="append", default=[], help="a checkpoint PATH.pt written by train (repeatable)")
    add_data_args(p)
    p.add_argument("--samples", type=_number(int, 1), default=512)
    p.add_argument("--radius", type=_number(int, 1, 256), default=16)
    p.add_argument("--seed", type=_number(int, 0, 2**32 - 1), default=0)
    p.add_argument("--device", default="auto", choices=DEVICES)
    p.add_argument("--structural", action="store_true", help="also score the structural matcher on the same tiles")
    p.add_argument("--out", default=None, help="write the results as JSON")

    p = sub.add_parser("demo", help="coregister the bundled Sentinel-1/2 sample with a known displacement")
    p.add_argument("--out", default="demo_output")
    p.add_argument("--seed", type=_number(int, 0, 2**32 - 1), default=7)
    return parser


class _Output:
    """Progress as a tqdm bar on a terminal, JSON lines for the worker, or nothing."""

    def __init__(self, mode: str):
        self.mode = mode
        self.bar = None
        if mode == "bar" and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=1000, unit="‰", bar_format="{l_bar}{bar}| {elapsed}", file=sys.stderr)

    def _line(self, event: dict) -> None:
        """One JSON line on stdout. A reader that has gone (a closed pipe) cancels the run: nobody would see it."""
        try:
            print(json.dumps(event), flush=True)
        except BrokenPipeError:
            self.mode = "none"
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            raise KeyboardInterrupt from None

    def progress(self, fraction: float, message: str) -> None:
        if self.mode == "jsonl":
            self._line({"type": "progress", "fraction": round(fraction, 4), "message": message})
        elif self.bar is not None:
            self.bar.set_description(message[:48])
            self.bar.update(int(fraction * 1000) - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()

    def result(self, payload: dict) -> None:
        if self.mode == "jsonl":
            try:
                self._line({"type": "result", **payload})
            except KeyboardInterrupt:
                pass  # the outputs are committed; only the reader is gone

    def error(self, message: str) -> None:
        if self.mode == "jsonl":
            try:
                self._line({"type": "error", "message": message})
            except KeyboardInterrupt:
                pass
        print(f"error: {message}", file=sys.stderr)


def _cancel_on_stop(signum, frame):
    """The plugin's Cancel (SIGTERM), a closed terminal (SIGHUP), Ctrl-C: unwind, so temporary outputs are
    removed; once the result is committed there is nothing left to cancel, and the signal is ignored."""
    from .core.outputs import result_committed

    if not result_committed():
        raise KeyboardInterrupt


def _print_summary(report, out_dir: str) -> None:
    for note in report.notes:
        print(f"note: {note}")
    verdict = report.verdict_line()
    if verdict and not report.aligned:
        print(f"warning: {verdict}", file=sys.stderr)
    elif verdict:
        print(verdict)
    print(report.points_line())
    print(f"outputs in {os.path.abspath(out_dir)}")


def main(argv=None) -> int:
    parser = build_parser()
    argv = None if argv is None else [str(a) for a in argv]
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return _refuse_usage(str(exc), sys.argv[1:] if argv is None else argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USER_ERROR
    warnings.filterwarnings("ignore", module="rasterio")
    os.environ.setdefault("CPL_LOG", os.devnull)  # GDAL's own messages; the user gets our one-line errors
    if args.command == "demo":
        from .demo import run_demo

        return _guarded(lambda: run_demo(args.out, args.seed), _Output("none"))
    if args.command == "env":
        from .core.environment import check_environment

        print(json.dumps(check_environment(), indent=2))
        return 0
    if args.command == "train-dense":
        from .training.commands import run_train_dense

        return _guarded(lambda: run_train_dense(args), _Output("none"))
    if args.command in ("train", "evaluate"):
        from .training.commands import run_evaluate, run_train

        return _guarded(lambda: (run_train if args.command == "train" else run_evaluate)(args), _Output("none"))
    if args.command == "convert":
        out = _Output(args.progress)
        return _guarded(lambda: _convert(args, out), out)
    if args.command == "batch":
        from .batch.progress import BatchOutput
        from .batch.run import request_stop

        out = BatchOutput(args.progress)
        stops = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
        previous = {stop: signal.signal(stop, request_stop) for stop in stops}  # Ctrl-C, Cancel, a closed terminal
        try:
            return _guarded(lambda: _batch(args, out), out)
        finally:
            for stop, handler in previous.items():
                signal.signal(stop, handler)

    out = _Output(args.progress)
    stops = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {stop: signal.signal(stop, _cancel_on_stop) for stop in stops}

    def descriptor_for(params):  # imported when the pipeline asks (after reading)
        from .models.descriptor import descriptor_for

        return descriptor_for(params)

    def work():
        from .core import pipeline
        from .core.request import ApplyParams, CoregParams

        if args.command == "coregister":
            result = pipeline.coregister(args.eo, args.sar, args.out, CoregParams.from_args(args),
                                         progress=out.progress, descriptors=descriptor_for)
        else:
            result = pipeline.apply(args.tiepoints, args.eo, args.sar, args.out, ApplyParams.from_args(args),
                                    progress=out.progress)
        if argv is None:  # exiting resets our handlers (and takes a while): a late stop must not kill a finished run
            for stop in stops:
                signal.signal(stop, signal.SIG_IGN)
        out.close()
        out.result({"out_dir": result.out_dir, "report": result.report.to_dict()})
        if args.progress != "jsonl":
            _print_summary(result.report, result.out_dir)
        if result.late_cancel:
            print("note: the cancel came while the finished outputs were being moved into place; they are complete "
                  "and were kept.", file=sys.stderr)
        return 0

    try:
        return _guarded(work, out)
    finally:
        if argv is not None:  # called in-process: give the caller its handlers back
            for stop, handler in previous.items():
                signal.signal(stop, handler)


def options_request(argv):
    """The request (CoregParams) of coregister options alone (a manifest row's), parsed and checked as the command line does."""
    from .core.errors import CoregError
    from .core.request import CoregParams

    parser = _Parser(prog="manifest", add_help=False)
    _add_crs(parser)
    _add_options(parser)
    try:
        return CoregParams.from_args(parser.parse_args(argv))
    except UsageError as exc:
        raise CoregError(str(exc).replace(" (see manifest --help)", "")) from None


def _batch(args, out) -> int:
    from .batch import EXIT_PAIRS_FAILED
    from .batch.manifest import pairs_from_glob, read_manifest
    from .batch.run import run_batch
    from .core.errors import CoregError
    from .core.request import CoregParams

    if bool(args.manifest) == bool(args.eo or args.sar):
        raise CoregError("Give either --manifest CSV, or --eo EO with --sar 'GLOB' (one EO against many SAR).")
    base = CoregParams.from_args(args)
    base.validate()
    if args.manifest:
        pairs = read_manifest(args.manifest, base.to_argv(), options_request)
    elif not (args.eo and args.sar):
        raise CoregError("--eo and --sar go together: --eo EO --sar 'GLOB'.")
    else:
        pairs = pairs_from_glob(args.eo, args.sar, base, args.out)
    result = run_batch(pairs, args.out, args.workers, args.scheduler, args.force, out.event)
    out.finish(result)
    if result.cancelled:
        return EXIT_CANCELLED
    return EXIT_PAIRS_FAILED + min(result.failed, 25) if result.failed else 0


def _convert(args, out: _Output) -> int:
    from .core.pipeline import convert_tiepoints

    n = convert_tiepoints(args.tiepoints, args.to, args.eo, args.sar, args.eo_crs, args.sar_crs)
    out.result({"out_dir": os.path.dirname(os.path.abspath(args.to)), "report": {"tiepoints": n, "file": args.to}})
    if args.progress != "jsonl":
        print(f"{n} tie points written to {os.path.abspath(args.to)}")
    return 0


def _guarded(work, out: _Output) -> int:
    from .core.errors import CoregCancelledError, CoregError

    try:
        return work()
    except CoregError as exc:
        out.close()
        out.error(str(exc))
        return EXIT_USER_ERROR
    except (CoregCancelledError, KeyboardInterrupt):
        out.close()
        out.error("Cancelled; no outputs were written.")
        return EXIT_CANCELLED
