"""The README as a first-time user reads it: no path of the author's machine, a short headline
table of measured figures whose every number is in docs/benchmarks.md (with its command)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BENCHMARKS = ROOT / "docs" / "benchmarks.md"
MACHINE_PATH = re.compile(r"(?<![\w.~-])/(?:work|root|home)/")


@pytest.mark.parametrize("doc", ["README.md", "docs/benchmarks.md", "docs/internals.md",
                                 "docs/reliability.md"])
def test_no_absolute_path_of_the_authors_machine(doc):
    path = ROOT / doc
    if not path.is_file():
        pytest.fail(f"{doc} is missing")
    hits = [f"{doc}:{n}: {line.strip()}" for n, line in
            enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if MACHINE_PATH.search(line)]
    assert not hits, hits


def test_the_check_finds_such_a_path():
    assert MACHINE_PATH.search("images: 5 in /work/shared/fixtures/wider-mini")
    assert MACHINE_PATH.search("see /home/me/x and /root/y")
    assert not MACHINE_PATH.search("images: 5 in wider-mini; ../shared/fixtures; a/work/b")


def _headline_rows() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Last measured"):]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[c.strip() for c in row.strip("|").split("|")] for row in rows[1:]]  # header off


def test_headline_table_is_short_and_each_figure_is_in_the_benchmarks_page():
    rows = _headline_rows()
    detail = BENCHMARKS.read_text(encoding="utf-8")
    assert 5 <= len(rows) <= 15
    for figure, value, command in rows:
        assert len(figure) + len(value) + len(command) < 160, figure  # not a paragraph
        for number in re.findall(r"\d+(?:[.,]\d+)*", value):
            assert number in detail, f"README {figure!r}: {number} is not in docs/benchmarks.md"
        for script in re.findall(r"bench_\w+\.py", command):
            assert (ROOT / "benchmarks" / script).is_file(), script
            assert script in detail


def test_benchmarks_page_keeps_every_row_with_its_command():
    rows = [line for line in BENCHMARKS.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| script") and "---" not in line]
    assert len(rows) >= 25
    for row in rows:
        command = row.strip("|").split("|")[0].strip()
        assert command.startswith("`") or command == "same", row  # a command, or the row above's


def test_reliability_table_lists_every_hostile_test():
    """docs/reliability.md names each test function of tests/test_hostile_*.py."""
    import ast

    table = (ROOT / "docs" / "reliability.md").read_text(encoding="utf-8")
    for path in sorted((ROOT / "tests").glob("test_hostile_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                assert f"{path.name}::{node.name}`" in table, node.name
