"""Command line: python -m sar_eo_coreg SUBCOMMAND ..."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
