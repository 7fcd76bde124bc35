"""The one atomic file writer and the one umask reader, shared by every stage.

A file written with :func:`atomic_file` (or its text/bytes/copy shorthands) appears under its
final name only once complete: the data goes to a temporary file in the same folder, created
with the usual file mode (``0o666`` minus the umask; ``mkstemp`` would leave ``0o600``), and is
then moved over the target with ``os.replace``. A reader never sees a partial file; on any
error the temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Read once at import (``os.umask`` reads it only by setting it, then restoring it), as doing
#: so is not safe while other threads create files.
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def umask() -> int:
    """The process umask, as read when rfbench was imported (e.g. ``0o022``)."""
    return _UMASK


_TEMP_NAMES = itertools.count()


def _new_temporary(path: Path) -> tuple[Path, int]:
    """A new, empty file beside ``path``: ``.<name>.<pid>.<n>.tmp``, created exclusively with
    mode ``0o666`` (the kernel applies the umask, as for any new file), and its open (write-only)
    descriptor. Cheaper than ``tempfile.mkstemp`` plus a ``chmod`` (an eval writes two files per
    image)."""
    while True:
        tmp = path.parent / f".{path.name}.{os.getpid()}.{next(_TEMP_NAMES)}.tmp"
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue  # left by a process of the same pid that died: take the next name


#: The name :func:`_new_temporary` gives: ``.<name>.<pid>.<n>.tmp``.
_TEMPORARY = re.compile(r"\..+\.\d+\.\d+\.tmp")


def remove_stale_temporaries(folder: str | os.PathLike[str]) -> int:
    """Remove the temporary files a killed writer left anywhere under ``folder`` (a ``kill -9``
    between a temporary's creation and its rename); returns how many. Only for a folder no live
    process writes into (an output folder this process holds the lock of, before its workers get
    work)."""
    stale = [p for p in Path(folder).rglob(".*.tmp") if _TEMPORARY.fullmatch(p.name) and p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


@contextmanager
def _replacing(path: Path, tmp: Path) -> Iterator[None]:
    """On a clean exit move ``tmp`` over ``path``; on any exception remove ``tmp`` and re-raise."""
    try:
        yield
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path`` atomically.

    The caller writes the temporary file (any way it likes); an exception inside the ``with``
    removes it and propagates, leaving ``path`` untouched.
    """
    path = Path(path)
    tmp, fd = _new_temporary(path)
    os.close(fd)
    with _replacing(path, tmp):
        yield tmp


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, through the temporary file's own descriptor (one
    ``open`` per file: the prediction and landmark files of an eval go this way)."""
    path = Path(path)
    tmp, fd = _new_temporary(path)
    with _replacing(path, tmp):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:  # os.write's error has no file name: say which file (ENOSPC...)
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(path)) from exc
            raise
        finally:
            os.close(fd)


def atomic_copy(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Copy the file ``source`` to ``path`` atomically (contents only, usual file mode)."""
    with atomic_file(path) as tmp:
        shutil.copyfile(source, tmp)
