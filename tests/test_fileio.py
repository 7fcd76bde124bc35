"""The one atomic writer: complete file or none, usual file mode, no temporary left behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rfbench import fileio


def test_text_bytes_and_copy(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    fileio.atomic_write_text(target, "x\r\ny\n")
    assert target.read_bytes() == b"x\r\ny\n"  # newlines kept as given
    assert target.stat().st_mode & 0o777 == 0o666 & ~fileio.umask()
    fileio.atomic_write_bytes(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    copy = tmp_path / "b.bin"
    fileio.atomic_copy(target, copy)
    assert copy.read_bytes() == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.bin"]


def test_failure_leaves_the_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), fileio.atomic_file(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_umask_matches_the_process() -> None:
    mask = os.umask(0o022)
    os.umask(mask)
    assert fileio.umask() == mask


def test_a_failed_write_leaves_the_target_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    real_write, calls = os.write, []

    def short_then_full_disk(fd: int, data) -> int:  # a short write first, then ENOSPC
        calls.append(len(data))
        if len(calls) > 1:
            raise OSError(28, "No space left on device")
        return real_write(fd, bytes(data[:3]))

    monkeypatch.setattr(fileio.os, "write", short_then_full_disk)
    with pytest.raises(OSError, match="No space"):
        fileio.atomic_write_text(target, "new text")
    assert target.read_text() == "old" and calls == [8, 5]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_short_writes_are_continued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = os.write
    monkeypatch.setattr(fileio.os, "write", lambda fd, data: real_write(fd, bytes(data[:2])))
    fileio.atomic_write_bytes(tmp_path / "a.bin", b"0123456789")
    assert (tmp_path / "a.bin").read_bytes() == b"0123456789"


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path: Path) -> None:
    """What a killed writer leaves (``.<name>.<pid>.<n>.tmp``, at any depth) goes; other dot
    files, tempfile's ``tmp*.tmp`` (the image cache's) and plain files stay."""
    (tmp_path / "e" / "f").mkdir(parents=True)
    _, fd = fileio._new_temporary(tmp_path / "e" / "f" / "img.txt")  # the writer's own naming
    os.close(fd)
    stale = [tmp_path / "e" / ".a.txt.123.4.tmp", *(tmp_path / "e" / "f").iterdir()]
    kept = [tmp_path / "e" / ".hidden", tmp_path / "e" / "tmpab12.tmp", tmp_path / "e" / ".a.txt.tmp",
            tmp_path / "e" / "a.txt", tmp_path / "e" / ".a.txt.x.4.tmp"]
    for path in stale + kept:
        path.touch()
    assert fileio.remove_stale_temporaries(tmp_path) == 2
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
