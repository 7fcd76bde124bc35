"""Output folders: checked, claimed and locked before any work, so nothing fails late.

Every command that writes results calls :func:`prepare_output_dir` once, before it loads a
model or measures anything, and runs inside it::

    with prepare_output_dir(args.out, "latency", force=args.force) as out_dir:
        ...  # the work, then the writes into out_dir

On entry the folder is created (or a new ``reports/<kind>-<time>`` one), a file is written into
it and removed (a path under a regular file, a read-only mount or a full disk fail here, with a
one-line :class:`~rfbench.errors.RfbenchError`), the folder is locked for this run and checked
for another run's results. On exit the lock is released; an ``OSError`` about a file inside the
folder (a write that still fails late, e.g. the disk filled up) becomes a one-line RfbenchError.

The lock is ``fcntl.flock`` on ``<out>/.rfbench.lock``, holding the pid of the run: the
kernel releases it when the process dies, so a crashed run never leaves a stale lock. (The
``filelock`` package truncates the file on every attempt, which would erase the holder's pid
that a second run names in its error.) The file is removed, while still locked, at the end.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from rfbench.errors import RfbenchError

log = logging.getLogger(__name__)

LOCK_FILE = ".rfbench.lock"
#: Files and folders rfbench writes into an output folder: what marks another run's results,
#: and all that ``--force`` removes (nothing else in the folder is touched).
RESULT_FILES = ("results.json", "results.csv", "report.html", "report.csv", "run.json",
                "samples.csv", "layers.csv")
RESULT_DIRS = ("predictions", "landmarks")  # landmarks: rfbench.accuracy.landmarks.LANDMARKS_DIR
MODEL_RUN_MANIFEST = "run.json"
RESUMABLE_KINDS = ("eval",)


class OutputDir:
    """A created, writable, locked output folder; use it as a context manager (yields the path).

    Made by :func:`prepare_output_dir`; ``path`` is the folder, ``created`` whether this run
    made it (an empty folder it made is removed again when the run fails).
    """

    def __init__(self, path: Path, created: bool, lock_fd: int | None) -> None:
        self.path, self.created, self._lock_fd = path, created, lock_fd

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
        if exc_type is not None and self.created:
            _remove_if_empty(self.path)
        if isinstance(exc, OSError) and _inside(exc.filename, self.path):
            raise RfbenchError(f"--out {self.path}: cannot write {exc.filename}: "
                               f"{exc.strerror or exc}") from exc

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent)."""
        if self._lock_fd is None:
            return
        try:
            (self.path / LOCK_FILE).unlink(missing_ok=True)  # removed while still held: no race
        except OSError as exc:
            log.debug("could not remove %s: %s", self.path / LOCK_FILE, exc)
        os.close(self._lock_fd)  # closing the descriptor releases the flock
        self._lock_fd = None


def prepare_output_dir(out: str | os.PathLike[str] | None, kind: str, *, force: bool = False,
                       resume: bool = False, keep: Sequence[str | os.PathLike[str]] = ()) -> OutputDir:
    """Create, probe, lock and check the output folder of a ``kind`` run (``eval``, ``latency``...).

    ``out``: the ``--out`` folder, or None for a new ``reports/<kind>-<time>`` folder.
    ``force``: replace another run's results there (only the files rfbench writes, see
    :data:`RESULT_FILES`, are removed; paths in ``keep`` and what holds them are kept).
    ``resume``: continue an interrupted model run in ``out`` (a folder with its ``run.json``
    is accepted; :func:`rfbench.accuracy.model_run.prepare_output` then checks its settings).
    Raises RfbenchError (one line, naming ``--out``) when the folder cannot be created or
    written, another run holds it (naming that run's pid), or it holds another run's results.
    """
    from rfbench.results.writer import unused_timestamped_path

    if force and resume:
        raise RfbenchError("--force replaces the results in --out and --resume continues them: give one")
    path = Path(out) if out is not None else unused_timestamped_path(kind)
    created = _create(path)
    output = OutputDir(path, created, None)
    try:
        _probe_write(path)
        output._lock_fd = _lock(path)
        _check_previous(path, kind, force=force, resume=resume, keep=[Path(k) for k in keep])
    except BaseException:
        output.release()
        if created:
            _remove_if_empty(path)
        raise
    return output


def _create(path: Path) -> bool:
    """mkdir -p ``path``; True when it did not exist before."""
    if path.is_dir():
        return False
    if path.exists():
        raise RfbenchError(f"--out {path}: exists and is not a folder")
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        return False  # made meanwhile by someone else: the lock decides who uses it
    except OSError as exc:
        raise RfbenchError(f"--out {path}: cannot create the output folder: {_reason(exc)}") from exc
    return True


def _probe_write(path: Path, failure: str | None = None) -> None:
    """Create and remove a file in ``path`` (tests write access as it is, root or not).

    RfbenchError ``"<failure>: <reason>"`` when it cannot (default: the ``--out`` folder's message).
    """
    try:
        fd, name = tempfile.mkstemp(dir=path, prefix=".rfbench-probe-")
        os.close(fd)
        os.unlink(name)
    except OSError as exc:
        what = failure or f"--out {path}: cannot write into the output folder"
        raise RfbenchError(f"{what}: {_reason(exc)}") from exc


def _lock(path: Path) -> int | None:
    """An exclusive flock on ``path/.rfbench.lock`` holding our pid; its descriptor."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, the rest of the checks still apply
        log.debug("no fcntl on this platform: %s is not locked", path)
        return None
    lock_path = path / LOCK_FILE
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RfbenchError(f"--out {path}: cannot create the lock file: {_reason(exc)}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise RfbenchError(f"--out {path}: cannot lock the output folder: {_reason(exc)}") from exc
            who = f"pid {holder}" if holder else "another process"
            raise RfbenchError(f"--out {path}: another rfbench run ({who}) is writing into this folder; "
                               "wait for it to finish, or choose another --out") from None
        if _same_file(fd, lock_path):
            break
        os.close(fd)  # the holder removed the file as we opened it: lock the new one
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _check_previous(path: Path, kind: str, *, force: bool, resume: bool, keep: list[Path]) -> None:
    """Refuse a folder holding another run's results, unless ``force`` (remove them) or ``resume``."""
    found = [name for name in (*RESULT_FILES, *RESULT_DIRS) if (path / name).exists()]
    if not found:
        return
    model_run = (path / MODEL_RUN_MANIFEST).is_file()
    if resume and kind in RESUMABLE_KINDS and model_run:
        return
    what = _describe_previous(path, model_run)
    if resume:
        raise RfbenchError(f"cannot resume in {path}: it holds {what} ({', '.join(found)}), not an "
                           f"interrupted eval --model run with its {MODEL_RUN_MANIFEST}")
    if not force:
        hint = "add --resume to continue it, --force to replace it" if model_run and kind == "eval" \
            else "add --force to replace them"
        raise RfbenchError(f"--out {path} already holds {what} ({', '.join(found)}): "
                           f"{hint}, or choose another --out")
    removed = [name for name in found if _remove_result(path / name, keep)]
    log.warning("--force: removed %s of an earlier run from %s", ", ".join(removed) or "nothing", path)


def _describe_previous(path: Path, model_run: bool) -> str:
    """"the results of a latency run", "an eval --model run", ... (best effort, for messages)."""
    import json

    if model_run:
        return "an eval --model run"
    try:
        previous = json.loads((path / "results.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        previous = None
    return f"the results of {'an' if str(previous)[:1] in 'aeiou' else 'a'} {previous} run" \
        if isinstance(previous, str) else "the results of another run"


def _remove_result(target: Path, keep: list[Path]) -> bool:
    """Remove one result file or folder unless it is, or holds, a path in ``keep``."""
    resolved = target.resolve()
    if any(k.resolve() == resolved or resolved in k.resolve().parents for k in keep):
        return False
    try:
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    except OSError as exc:
        raise RfbenchError(f"--force: cannot remove {target}: {_reason(exc)}") from exc
    return True


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):  # not empty (or gone): keep what is there
        path.rmdir()


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.path.samestat(os.stat(path), os.fstat(fd))
    except FileNotFoundError:
        return False


def _inside(filename: object, folder: Path) -> bool:
    """Whether the path ``filename`` (an OSError's) lies in ``folder``."""
    if not isinstance(filename, (str, os.PathLike)):
        return False
    try:
        return Path(os.path.abspath(filename)).is_relative_to(os.path.abspath(folder))
    except (TypeError, ValueError):
        return False


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def check_output_file(path: str | os.PathLike[str], *, create_folder: bool = True) -> Path:
    """Check, before any work, that the file ``path`` can be written (for ``report``,
    ``export-reference``): its folder exists or is created (``create_folder``), is a folder, and
    takes a new file. ``path`` itself must not be a folder. Returns ``path``."""
    path = Path(path)
    if path.is_dir():
        raise RfbenchError(f"--out {path}: is a folder, expected a file path")
    folder = path.parent
    if not folder.is_dir():
        if folder.exists():
            raise RfbenchError(f"--out {path}: {folder} is not a folder")
        if not create_folder:
            raise RfbenchError(f"--out {path}: folder {folder} does not exist")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RfbenchError(f"--out {path}: cannot create folder {folder}: {_reason(exc)}") from exc
    _probe_write(folder, f"--out {path}: cannot write into {folder}")
    return path
