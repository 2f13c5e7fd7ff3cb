"""A batch's progress as people expect it: on a terminal, a bar over pairs with ETA, the pairs running and a
line per finished pair; for the plugin (`--progress jsonl`), JSON lines: progress, one "pair" event per finished
pair, then the result."""

from __future__ import annotations

import json
import os
import sys
from typing import Dict, Tuple

from . import SUMMARY_CSV, SUMMARY_GPKG

STATUS_MARK = {"done": "ok", "skipped": "skipped", "failed": "FAILED", "cancelled": "cancelled"}


def pair_line(row: dict) -> str:
    """A finished pair in one line."""
    mark = STATUS_MARK.get(row["status"], row["status"])
    if row["status"] in ("done", "skipped"):
        figures = [row["verdict"] or ""]
        if row.get("rmse_px") is not None:
            figures.append(f"RMSE {row['rmse_px']:.2f} px")
        if row.get("seconds") is not None:
            figures.append(f"{row['seconds']:.1f} s")
        return f"{row['pair']}: {mark}, {', '.join(f for f in figures if f)}"
    return f"{row['pair']}: {mark}: {row['error']}"


class BatchOutput:
    """Renders run_batch's events: `mode` is bar, jsonl or none."""

    def __init__(self, mode: str):
        self.mode = mode
        self.bar = None
        self.running: Dict[str, Tuple[float, str]] = {}  # pair -> (fraction, message)
        self.finished, self.total = 0, 0

    def _json(self, event: dict) -> None:
        print(json.dumps(event), flush=True)

    def event(self, event: dict) -> None:
        """Render one run_batch event (a pair's progress, or a finished pair)."""
        if event["type"] == "pair_progress":
            self.running[event["pair"]] = (float(event["fraction"]), event["message"])
        else:
            row = event["row"]
            self.running.pop(row["pair"], None)
            self.finished, self.total = event["finished"], event["total"]
            if self.mode == "jsonl":
                self._json({"type": "pair", **row})
            elif self.mode == "bar":
                self._bar().write(pair_line(row))
        fraction = (self.finished + sum(f for f, _ in self.running.values())) / max(self.total or 1, 1)
        running = ", ".join(f"{name} {100 * f:.0f}%" for name, (f, _) in sorted(self.running.items()))
        if self.mode == "jsonl":
            self._json({"type": "progress", "fraction": round(min(fraction, 1.0), 4),
                        "message": f"{self.finished} of {self.total or '?'} pairs" + (f"; running {running}"
                                                                                       if running else "")})
        elif self.mode == "bar" and self.total:
            bar = self._bar()
            bar.total = self.total
            bar.n = self.finished
            bar.set_postfix_str(running[:60], refresh=False)
            bar.refresh()

    def _bar(self):
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total or None, unit="pair", file=sys.stderr, dynamic_ncols=True,
                            disable=not sys.stderr.isatty())
        return self.bar

    def close(self) -> None:
        """Close the terminal bar."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def finish(self, result) -> None:
        """The batch's last word: the summary line, and where the summary files are."""
        self.close()
        line = result.line() + ("; cancelled" if result.cancelled else "")
        if self.mode == "jsonl":
            self._json({"type": "result", "out_dir": result.out_dir, "report": {
                "line": line, "counts": result.counts, "workers": result.workers, "scheduler": result.scheduler,
                "startup_s": result.startup_s, "wall_s": result.wall_s, "cancelled": result.cancelled}})
        else:
            if self.mode == "none":
                for row in result.rows:
                    if row.status == "failed":
                        print(f"error: {row.pair}: {row.error}", file=sys.stderr)
            print(line)
            print(f"summary in {os.path.join(result.out_dir, SUMMARY_CSV)} and {SUMMARY_GPKG}")

    def error(self, message: str) -> None:
        """The batch's one-line error (a bad command line or manifest)."""
        self.close()
        if self.mode == "jsonl":
            self._json({"type": "error", "message": message})
        print(f"error: {message}", file=sys.stderr)
