"""The pairs of a batch: from a manifest CSV (`eo,sar[,name][,option…]`) or one EO against a glob of SARs. Each
pair's request is the batch's options with the row's own on top, parsed by the `coregister` command line, so a
pair means exactly what `coregister` with those options means."""

from __future__ import annotations

import csv
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List

from ..core.errors import CoregError
from ..core.request import CoregParams
from . import SUMMARY_CSV, SUMMARY_GPKG, SUMMARY_JSON

# manifest columns that are not options
PAIR_COLUMNS = ("eo", "sar", "name")
SWITCHES = {"tiepoints_only"}  # options without a value: yes/no in the manifest (yes switches it on for the row)
YES, NO = ("1", "yes", "true", "y"), ("0", "no", "false", "n")
RESERVED = {SUMMARY_CSV, SUMMARY_GPKG, SUMMARY_JSON, "con", "prn", "aux", "nul",
            *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))}  # the summary's files; Windows device names


@dataclass
class Pair:
    """One pair of a batch: its folder name under the batch's output, its inputs and its request."""

    name: str
    eo: str
    sar: str
    params: CoregParams


def option_columns() -> List[str]:
    """The manifest's option columns: CoregParams' fields, as the command line's flags spell them with _."""
    return [name for name in CoregParams.__dataclass_fields__]


def _safe_name(text: str) -> str:
    """A folder name: letters, digits, . _ -; never a name the batch's summary or Windows reserves."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "pair"
    return f"{name}_pair" if name.lower() in RESERVED or name.lower().split(".")[0] in RESERVED else name


def _unique(names: List[str]) -> List[str]:
    """The names made distinct (case-insensitively, as folders on some file systems are): _2, _3 … added."""
    taken = set()
    out = []
    for name in names:
        candidate, k = name, 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{name}_{k}"
        taken.add(candidate.lower())
        out.append(candidate)
    return out


def _input_path(cell: str, folder: Path) -> str:
    """A manifest cell as a path: ~ expanded; relative to the manifest's folder unless absolute, a GDAL /vsi path
    or a URL."""
    cell = os.path.expanduser(cell)
    if os.path.isabs(cell) or cell.startswith("/vsi") or re.match(r"^[a-z][a-z0-9+.-]*://", cell, re.I):
        return cell
    return str((folder / cell).resolve())


def _flag(column: str) -> str:
    return "--" + column.replace("_", "-")


def read_manifest(path: str, base_argv: List[str], parse: Callable[[List[str]], CoregParams]) -> List[Pair]:
    """The pairs of a manifest CSV. `base_argv`: the batch's coregister options; `parse(argv)`: a request from
    coregister options (the command line's parser). Relative paths are relative to the manifest's folder."""
    where = Path(path)
    try:
        with open(where, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = []
            for row in reader:
                if None in row:  # more cells than the header names
                    raise CoregError(f"{path} line {reader.line_num}: more cells than columns. Quote a path that "
                                     'holds a comma ("a,b.tif").')
                if any((v or "").strip() for v in row.values()):  # rows of empty cells (spreadsheets) are skipped
                    rows.append((reader.line_num, row))
            columns = [c.strip() for c in reader.fieldnames or []]
    except FileNotFoundError:
        raise CoregError(f"The manifest {path} does not exist. Give a CSV with columns eo,sar[,name][,options].") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CoregError(f"Cannot read the manifest {path}: {exc}. Give a UTF-8 CSV with columns eo,sar.") from None
    missing = [c for c in ("eo", "sar") if c not in columns]
    if missing:
        raise CoregError(f"The manifest {path} has no '{missing[0]}' column; its first line must name the columns, "
                         "e.g. eo,sar,name.")
    known = set(PAIR_COLUMNS) | set(option_columns())
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise CoregError(f"The manifest {path} has an unknown column '{unknown[0]}'. Columns: eo, sar, name and the "
                         f"coregister options: {', '.join(option_columns())}.")
    if not rows:
        raise CoregError(f"The manifest {path} lists no pairs.")
    pairs, names = [], []
    for line, row in rows:
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not row.get("eo") or not row.get("sar"):
            raise CoregError(f"{path} line {line}: the eo and sar cells must both name a raster.")
        eo, sar = (_input_path(row[c], where.parent) for c in ("eo", "sar"))
        argv = list(base_argv)
        for column in option_columns():
            value = row.get(column, "")
            if not value:
                continue
            if column in SWITCHES:
                if value.lower() not in YES + NO:
                    raise CoregError(f"{path} line {line}: {column} must be yes or no, got '{value}'.")
                if value.lower() in YES:
                    argv.append(_flag(column))
                continue
            argv += [_flag(column), value]
        try:
            params = parse(argv)
        except CoregError as exc:
            raise CoregError(f"{path} line {line}: {exc}") from None
        pairs.append(Pair("", eo, sar, params))
        names.append(_safe_name(row.get("name") or f"{Path(eo).stem}__{Path(sar).stem}"))
    for pair, name in zip(pairs, _unique(names)):
        pair.name = name
    return pairs


def pairs_from_glob(eo: str, pattern: str, params: CoregParams, out_dir: str = "") -> List[Pair]:
    """One EO against every SAR the glob matches (sorted), each named after its SAR file; files under the batch's
    own output folder (`out_dir`: earlier results) are not inputs."""
    out = os.path.abspath(out_dir) + os.sep if out_dir else None
    sars = sorted(p for p in glob.glob(os.path.expanduser(pattern), recursive=True)
                  if os.path.isfile(p) and not (out and os.path.abspath(p).startswith(out)))
    if not sars:
        raise CoregError(f"No SAR file matches '{pattern}'. Quote the pattern so the shell does not expand it, e.g. "
                         "--sar 'scenes/*.tif'.")
    eo = os.path.abspath(eo)
    sars = [s for s in sars if os.path.abspath(s) != eo]
    names = _unique([_safe_name(Path(s).stem) for s in sars])
    return [Pair(name, eo, os.path.abspath(s), params) for name, s in zip(names, sars)]
