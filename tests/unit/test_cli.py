"""The command line entry point."""

import subprocess
import sys

from tests.conftest import REPO


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "sar_eo_coreg", *args], cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def test_help_lists_subcommands():
    result = run_cli("--help")
    assert result.returncode == 0
    assert "usage: python -m sar_eo_coreg" in result.stdout


def test_no_subcommand_is_an_error_with_usage():
    result = run_cli()
    assert result.returncode == 2
    assert "usage:" in result.stderr
