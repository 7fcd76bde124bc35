"""The one atomic file writer and the one umask reader, shared by every stage.

A file written with :func:`atomic_file` (or its text/bytes/copy shorthands) appears under its
final name only once complete: the data goes to a temporary file in the same folder, which gets
the usual file mode (``0o666`` minus the umask; ``mkstemp`` would leave ``0o600``) and is then
moved over the target with ``os.replace``. A reader never sees a partial file; on any error the
temporary file is removed and the target is left as it was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _read_umask() -> int:
    """The process umask (``os.umask`` can only be read by setting it, then restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Read once at import: setting the umask to read it is not safe while other threads create files.
_UMASK = _read_umask()


def umask() -> int:
    """The process umask, as read when rfbench was imported (e.g. ``0o022``)."""
    return _UMASK


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit it replaces ``path`` atomically.

    The caller writes the temporary file (any way it likes); an exception inside the ``with``
    removes it and propagates, leaving ``path`` untouched.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically."""
    with atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)


def atomic_copy(source: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Copy the file ``source`` to ``path`` atomically (contents only, usual file mode)."""
    with atomic_file(path) as tmp:
        shutil.copyfile(source, tmp)
