"""The plain command line. Every subcommand calls the same engine as the plugin."""

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sar_eo_coreg",
        description="Coregister SAR imagery to EO (optical) imagery.",
    )
    parser.add_argument("--version", action="version", version=f"sar_eo_coreg {__version__}")
    parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0
