"""A benchmark's markdown table: written beside its JSON and printed."""

from pathlib import Path
from typing import List


def publish(path: Path, lines: List[str]) -> None:
    """Write `lines` as the markdown file `path` and print them."""
    Path(path).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
