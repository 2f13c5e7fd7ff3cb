"""Output folders: checked before a run, staged in a hidden folder inside the destination, committed as a set.

A result is the set of files named in its report.json (the manifest). A commit removes the old manifest
first, then earlier outputs of ours, moves the new files in and the manifest last, with SIGINT, SIGTERM and
SIGHUP held back, so a folder holds one complete result or no report.json at all. The staging folder lives
inside the destination (same file system, so moves are renames) and is named after the process: staging
folders of processes that are gone (killed runs) are removed when the next run starts.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from .errors import CoregCancelledError, CoregError

STAGE_PREFIX = ".sar_eo_coreg-"
# the files of a result (the output contract)
OFFSETS_FILE, CONFIDENCE_FILE, ALIGNED_FILE = "offsets.tif", "confidence.tif", "aligned_sar.tif"
TIEPOINTS_GPKG, TIEPOINTS_CSV, TIEPOINTS_POINTS = "tiepoints.gpkg", "tiepoints.csv", "tiepoints.points"
MANIFEST = "report.json"
OUTPUT_FILES = (TIEPOINTS_GPKG, TIEPOINTS_CSV, TIEPOINTS_POINTS, OFFSETS_FILE, ALIGNED_FILE, CONFIDENCE_FILE, MANIFEST)
HELD_SIGNALS = [getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)]
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_COMMITTED = threading.Event()  # this process's latest Staging has committed its result


def result_committed() -> bool:
    """True once the result of the run in progress is in place: a stop signal then has nothing left to cancel."""
    return _COMMITTED.is_set()


def stage_prefix(pid: Optional[int] = None) -> str:
    """The name prefix of this (or process `pid`'s) staging folders."""
    return f"{STAGE_PREFIX}{os.getpid() if pid is None else pid}-"


def check_destination(path, inputs: Dict[str, str], names: Iterable[str], what: str = "output folder") -> Path:
    """Refuse, before any work, a destination that cannot take the result: empty, below a file, or one that
    would overwrite an input. Returns the absolute path. (Staging checks writability and free space.)"""
    if not str(path).strip():
        raise CoregError(f"The {what} is empty. Give a folder path.")
    out = Path(os.path.abspath(os.fspath(path)))
    names = list(names)
    for name in names:
        _check_length(out / name, what)
    if out.exists() and not out.is_dir():
        raise CoregError(f"Output path exists and is not a folder: {out}. Choose a folder.")
    anchor = out
    while not anchor.exists():
        anchor = anchor.parent
    if not anchor.is_dir():
        raise CoregError(f"Cannot create the {what} {out}: {anchor} is a file, not a folder. Choose another {what}.")
    for name in names:
        target = out / name
        for role, source in inputs.items():
            if target.exists() and os.path.exists(source) and os.path.samefile(target, source):
                raise CoregError(f"The {role} input {source} would be overwritten by the output {name}. "
                                 f"Choose another {what} or move the input.")
        for entry in (target, out / f"{name}.aux.xml"):
            if os.path.lexists(entry):
                _check_entry(entry, what)
    return out


def _check_length(entry: Path, what: str) -> None:
    """Every name on the path must fit the file system (checked before anything touches it)."""
    existing = next((p for p in entry.parents if os.path.isdir(p)), Path("/"))
    try:
        limit = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = 255
    long = next((part for part in entry.parts if len(part.encode()) > limit), None)
    if long is not None:
        raise CoregError(f"The name '{long[:40]}…' in the {what} is longer than this file system allows "
                         f"({len(long.encode())} bytes, at most {limit}). Choose a shorter {what}.")


def _check_entry(entry: Path, what: str) -> None:
    """An output file may replace a file or a link there, nothing else."""
    if entry.is_symlink() or not entry.exists() or entry.is_file():
        return
    kind = "folder" if entry.is_dir() else "special file (pipe, socket or device)"
    raise CoregError(f"The {what} {entry.parent} holds a {kind} named '{entry.name}' where an output file goes; "
                     f"nothing was changed. Move or rename it, or choose another {what}.")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_stages(folder: Path) -> List[str]:
    """Remove staging folders left by runs whose process is gone (SIGKILL, power loss)."""
    removed = []
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        if not (entry.name.startswith(STAGE_PREFIX) and entry.is_dir()):
            continue
        pid = entry.name[len(STAGE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry.name)
    return removed


def write_error(exc: BaseException, folder: Path) -> CoregError:
    """One line for a failure to write into `folder` (disk full, permissions, I/O)."""
    number = getattr(exc, "errno", None)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    full = number in _DISK_FULL or any(s in text for s in ("No space left", "File too large", "disk is full"))
    if not full:
        try:
            full = shutil.disk_usage(folder).free < (1 << 20)
        except OSError:
            pass
    if full:
        return CoregError(f"The disk holding {folder} is full (or a file size limit was hit) while writing the "
                          "outputs; nothing was changed. Free some space or choose another output folder.")
    return CoregError(f"Could not write the outputs in {folder} ({text}); nothing was changed. "
                      "Check the folder's permissions and the disk.")


class Staging:
    """`with Staging(folder) as stage:` write into `stage.path`, then `stage.commit(names)`. On any error
    the staging folder, and folders this run created, are removed; write faults become one-line errors."""

    def __init__(self, folder, needed_bytes: int = 0):
        self.folder = Path(os.path.abspath(os.fspath(folder)))
        self.needed_bytes = needed_bytes  # refused up front when the disk has less room
        self.path: Optional[Path] = None
        self.late_cancel = False  # a cancel arrived while committing: the result is complete and kept
        self._created: List[Path] = []

    def __enter__(self) -> Staging:
        _COMMITTED.clear()
        missing = []
        folder = self.folder
        while not folder.exists():
            missing.append(folder)
            folder = folder.parent
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self._created.append(folder)
            remove_stale_stages(self.folder)
            self.path = Path(tempfile.mkdtemp(prefix=stage_prefix(), dir=self.folder))
        except OSError as exc:
            self._remove_created()
            raise CoregError(f"Cannot write to {self.folder} ({exc.strerror or exc}). "
                             "Choose a writable output folder.") from None
        free = shutil.disk_usage(self.folder).free
        if self.needed_bytes > free:
            self._discard()
            raise CoregError(f"Not enough free space for the outputs in {self.folder}: about "
                             f"{self.needed_bytes / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free. Free some space "
                             "or choose another output folder.")
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            shutil.rmtree(self.path, ignore_errors=True)
        else:
            self._discard()
        return False

    def _discard(self) -> None:
        """Remove the staging folder and the folders this run created."""
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
        self._remove_created()

    @contextmanager
    def writing(self):
        """Around the writes into the stage: disk full, permissions and I/O faults become one line."""
        from sqlite3 import Error as SqliteError

        from rasterio.errors import RasterioError

        try:
            yield self.path
        except (OSError, RasterioError, SqliteError) as exc:
            raise write_error(exc, self.folder) from None

    def _remove_created(self) -> None:
        for folder in reversed(self._created):
            try:
                folder.rmdir()
            except OSError:
                break

    def commit(self, names: Iterable[str], ours: Iterable[str] = (), manifest: Optional[str] = None) -> None:
        """Move the staged `names` into the folder as one set: the old manifest goes first, outputs of ours
        that the new set lacks (and their .aux.xml side files) next, the new manifest last. Every destination
        is checked first; the files it displaces wait in the stage, and any failure puts them back."""
        names = list(names)
        ours_and_new = sorted(set(ours) | set(names))
        displaced = list(dict.fromkeys(([manifest] if manifest else []) + [f"{n}.aux.xml" for n in ours_and_new] +
                                       ours_and_new))
        for name in displaced:
            if os.path.lexists(self.folder / name):
                _check_entry(self.folder / name, "output folder")
        backup = self.path / ".previous"
        backup.mkdir(exist_ok=True)
        moved, placed = [], []
        with _held_signals() as caught:
            if caught:
                raise CoregCancelledError()
            try:
                for name in displaced:
                    if os.path.lexists(self.folder / name):
                        os.replace(self.folder / name, backup / name)
                        moved.append(name)
                for name in sorted(names, key=lambda n: n == manifest):
                    os.replace(self.path / name, self.folder / name)
                    placed.append(name)
            except OSError as exc:
                for name in reversed(placed):
                    _undo(lambda n=name: os.replace(self.folder / n, self.path / n))
                for name in reversed(moved):
                    _undo(lambda n=name: os.replace(backup / n, self.folder / n))
                raise write_error(exc, self.folder) from None
            _COMMITTED.set()
            self.late_cancel = bool(caught)


def _undo(step) -> None:
    """One step of a rollback: best effort, the others still run."""
    try:
        step()
    except OSError:
        pass


@contextmanager
def _held_signals():
    """Within the block, SIGINT/SIGTERM/SIGHUP are only recorded (the list it yields): the Python handlers are
    swapped, so a signal that arrived just before is handled by the recorder too, never by a handler that raises
    in the middle of the moves. Only the main thread can swap handlers; elsewhere signals reach the main thread."""
    caught: List[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield caught
        return
    previous = {}
    try:
        for stop in HELD_SIGNALS:
            previous[stop] = signal.signal(stop, lambda signum, frame: caught.append(signum))
        yield caught
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
